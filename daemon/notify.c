/* notify.c - sd_notify(3)'s protocol: a datagram on an AF_UNIX socket whose
 * path ($NOTIFY_SOCKET) starts with '/' or '@' (abstract namespace). */
#include <sys/socket.h>
#include <sys/un.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

int
notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t sunlen;
	size_t plen;
	int fd, rc;

	if (path == NULL || *path == '\0')
		return 0;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    plen >= sizeof(sun.sun_path)) {
		log_warnx("NOTIFY_SOCKET is not a usable socket path");
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';
	sunlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("notify: socket");
		return -1;
	}
	rc = (int)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
	                 (struct sockaddr *)&sun, sunlen);
	close(fd);
	if (rc < 0) {
		log_warn("notify: sendto %s", path);
		return -1;
	}
	return 0;
}

uint64_t
notify_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long v;

	if (usec == NULL)
		return 0;
	if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	v = strtoull(usec, &end, 10);
	if (*end != '\0')
		return 0;
	return v;
}
