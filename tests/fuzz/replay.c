/* replay.c - run one libFuzzer target over files, without libFuzzer.
 *
 * Linked with one target's LLVMFuzzerTestOneInput and built with the normal
 * compiler and flags, so `make test` replays every committed corpus in the
 * plain and the ASan+UBSan builds (tests/fuzz/README.md):
 *
 *   build-san/tests/replay_money tests/fuzz/corpus/money [FILE|DIR]...
 *
 * Every regular file of each directory (not recursing, dot files skipped,
 * in name order) and every file named is one input.  Each input runs in a
 * child process, the way libFuzzer sees it: an exact-size heap copy, so a
 * read past the end is caught, and a leak is reported at the child's exit.
 * A failed check (abort), a sanitizer report, any other signal or a hang of
 * more than REPLAY_TIMEOUT seconds fails that input; the others still run.
 *
 * Output is TAP for tests/run.sh: the failed inputs one per line, then one
 * "ok"/"not ok" line for the target.  Exit status 0 only if every input
 * passed and there was at least one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef REPLAY_TIMEOUT
#define REPLAY_TIMEOUT 60 /* seconds per input */
#endif
#define REPLAY_MAX_INPUT (16 * 1048576) /* bytes of one input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target, as in libFuzzer: called once before any input. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

struct replay_stats {
	size_t inputs;
	size_t failed;
};

/* Read PATH into an exact-size buffer and run the target over it: the
 * child's whole life.  Never returns. */
static void
replay_child(const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	alarm(REPLAY_TIMEOUT);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		_exit(2);
	}
	if (st.st_size > REPLAY_MAX_INPUT) {
		fprintf(stderr, "replay: %s: larger than %d bytes\n", path,
		        REPLAY_MAX_INPUT);
		_exit(2);
	}
	/* At least one byte allocated, so DATA is never NULL. */
	if ((buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL) {
		fprintf(stderr, "replay: %s: out of memory\n", path);
		_exit(2);
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "replay: %s: %s\n", path,
			        n == 0 ? "shrank while read" : strerror(errno));
			_exit(2);
		}
		len += (size_t)n;
	}
	close(fd);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	/* exit, not _exit: LeakSanitizer checks at exit. */
	exit(0);
}

/* Run one input in a child and report it if it failed. */
static void
replay_one(const char *path, struct replay_stats *st)
{
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		printf("%s: fork: %s\n", path, strerror(errno));
		st->inputs++;
		st->failed++;
		return;
	}
	if (pid == 0)
		replay_child(path);
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			printf("%s: waitpid: %s\n", path, strerror(errno));
			exit(2);
		}
	}
	st->inputs++;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	st->failed++;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		printf("%s: timed out after %d s\n", path, REPLAY_TIMEOUT);
	else if (WIFSIGNALED(status))
		printf("%s: killed by signal %d (%s)\n", path, WTERMSIG(status),
		       strsignal(WTERMSIG(status)));
	else
		printf("%s: exited %d\n", path, WEXITSTATUS(status));
}

static int
replay_skip(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Every regular file directly in DIR, in name order.  -1 if DIR cannot be
 * read. */
static int
replay_dir(const char *dir, struct replay_stats *st)
{
	struct dirent **names;
	struct stat sb;
	char path[PATH_MAX];
	int i, n;

	if ((n = scandir(dir, &names, replay_skip, alphasort)) == -1) {
		printf("%s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir,
		             names[i]->d_name) < (int)sizeof(path) &&
		    stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
			replay_one(path, st);
		free(names[i]);
	}
	free(names);
	return 0;
}

int
main(int argc, char **argv)
{
	struct replay_stats st = {0, 0};
	const char *name = strrchr(argv[0], '/');
	struct stat sb;
	int i, bad_arg = 0;

	name = name != NULL ? name + 1 : argv[0];
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", name);
		return 2;
	}
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	printf("1..1\n");
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &sb) == -1) {
			printf("%s: %s\n", argv[i], strerror(errno));
			bad_arg = 1;
		} else if (S_ISDIR(sb.st_mode)) {
			if (replay_dir(argv[i], &st) == -1)
				bad_arg = 1;
		} else {
			replay_one(argv[i], &st);
		}
	}
	if (st.failed > 0)
		printf("not ok 1 - %s: %zu of %zu inputs failed\n", name,
		       st.failed, st.inputs);
	else if (bad_arg)
		printf("not ok 1 - %s: a corpus path could not be read\n",
		       name);
	else if (st.inputs == 0)
		printf("not ok 1 - %s: no inputs\n", name);
	else
		printf("ok 1 - %s: %zu inputs\n", name, st.inputs);
	return st.failed > 0 || bad_arg || st.inputs == 0;
}
