/* notify.h - the systemd notification protocol (Type=notify), without
 * linking libsystemd: one datagram to $NOTIFY_SOCKET. */
#ifndef PANELMUX_NOTIFY_H
#define PANELMUX_NOTIFY_H

#include <stdint.h>

/* Send MSG ("READY=1", "STOPPING=1", ...); 0 if sent or not under systemd,
 * -1 on a send error. */
int notify_send(const char *msg);
/* The watchdog interval systemd asks for, in microseconds; 0 if none. */
uint64_t notify_watchdog_usec(void);

#endif
