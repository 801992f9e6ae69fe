/* config_secret.c - what comes from outside the file: ${VAR} expansion from
 * the environment, key files (beside the config or in systemd's
 * $CREDENTIALS_DIRECTORY), bounded file reads, and CONFIG_LAZY_SECRETS.
 * Secrets are never quoted in messages and are zeroed before they are freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_int.h"
#include "xmalloc.h"

/* Files and the environment. */

/* Read the regular file PATH, at most MAX bytes, into *OUT (NUL-terminated,
 * free it) and *OUTLEN; on failure WHY says why. */
int
cfg_slurp(const char *path, size_t max, char **out, size_t *outlen, char *why,
          size_t whysize)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		snprintf(why, whysize, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(why, whysize, "%s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whysize, "not a regular file");
		goto fail;
	}
	if ((uint64_t)st.st_size > max)
		goto toolarge;
	buf = xmalloc(max + 2);
	while (len <= max) {
		n = read(fd, buf + len, max + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(why, whysize, "%s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max)
		goto toolarge;
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
toolarge:
	snprintf(why, whysize, "file too large (max %zu bytes)", max);
fail:
	if (buf != NULL)
		explicit_bzero(buf, len);
	free(buf);
	close(fd);
	return -1;
}

static void
cfg_append(char **out, size_t *len, const char *s, size_t n)
{
	*out = xreallocarray(*out, *len + n + 1, 1);
	memcpy(*out + *len, s, n);
	*len += n;
	(*out)[*len] = '\0';
}

void
cfg_wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* S with every ${VAR} replaced from the environment; NULL after reporting
 * an error (which never quotes S: it may hold a secret). */
char *
cfg_expand(struct cfg_parser *p, const char *s, struct cfg_pos pos)
{
	char name[CFG_VAR_MAX + 1];
	const char *d, *end, *val;
	char *out = NULL;
	size_t len = 0, n;

	cfg_append(&out, &len, "", 0);
	while ((d = strstr(s, "${")) != NULL) {
		cfg_append(&out, &len, s, (size_t)(d - s));
		if ((end = strchr(d + 2, '}')) == NULL) {
			cfg_err(p, pos, "unterminated ${ (write ${VAR})");
			goto fail;
		}
		n = (size_t)(end - (d + 2));
		if (n == 0 || n > CFG_VAR_MAX || (d[2] >= '0' && d[2] <= '9') ||
		    strspn(d + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
		                  "stuvwxyz0123456789_") != n) {
			cfg_err(p, pos,
			        "bad variable name in ${...} (letters, "
			        "digits and _)");
			goto fail;
		}
		memcpy(name, d + 2, n);
		name[n] = '\0';
		if ((val = getenv(name)) == NULL) {
			cfg_err(p, pos, "environment variable %s is not set",
			        name);
			goto fail;
		}
		cfg_append(&out, &len, val, strlen(val));
		s = end + 1;
	}
	cfg_append(&out, &len, s, strlen(s));
	return out;
fail:
	cfg_wipe_free(out);
	return NULL;
}

/* The key in NAME: relative to $CREDENTIALS_DIRECTORY (systemd
 * LoadCredential=) when set, else to the config file's directory. */
char *
cfg_read_key_file(struct cfg_parser *p, const char *name, struct cfg_pos pos)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char why[128], shown[256], *path, *buf, *key = NULL;
	size_t len;

	if (name[0] == '/')
		path = xstrdup(name);
	else
		xasprintf(&path, "%s/%s",
		          dir != NULL && *dir != '\0' ? dir : p->dir, name);
	if (cfg_slurp(path, CFG_MAX_KEY_FILE, &buf, &len, why, sizeof(why)) ==
	    -1) {
		/* The path is the operator's, but bytes from the file go
		 * through cfg_quote like every quoted value. */
		cfg_err(p, pos, "%s: %s", cfg_quote(path, shown, sizeof(shown)),
		        why);
		free(path);
		return NULL;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	if (memchr(buf, '\0', len) != NULL)
		cfg_err(p, pos, "%s: the key holds a NUL byte",
		        cfg_quote(path, shown, sizeof(shown)));
	else if (len == 0)
		cfg_err(p, pos, "%s: the key file is empty",
		        cfg_quote(path, shown, sizeof(shown)));
	else
		key = xstrndup(buf, len);
	explicit_bzero(buf, len);
	free(buf);
	free(path);
	return key;
}

/* CONFIG_LAZY_SECRETS: a secret that cannot be read (an unset variable,
 * a missing key file) is no error; the key stays NULL and the message
 * that would have been reported is kept in the upstream's key_error, for
 * the commands that do call it.  Everything else is checked as usual. */
int
cfg_put_secret_lazy(struct cfg_parser *p, const struct cfg_key *k, void *base,
                    const char *text, struct cfg_pos pos)
{
	struct cfg_upstream *u = base;
	size_t n = p->errs->n;
	int rc;

	p->flags &= ~CONFIG_LAZY_SECRETS;
	rc = cfg_put_string(p, k, base, text, 0, pos);
	p->flags |= CONFIG_LAZY_SECRETS;
	if (rc == 0 || p->errs->n != n + 1 || p->stop)
		return rc;
	free(u->key_error);
	u->key_error = p->errs->msgs[--p->errs->n];
	return 0;
}
