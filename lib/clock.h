/* clock.h - the two clocks panelmux reads. */
#ifndef PANELMUX_CLOCK_H
#define PANELMUX_CLOCK_H

#include <stdint.h>

/* Milliseconds on the monotonic clock: for durations and deadlines. */
int64_t clock_mono_ms(void);
/* ... and in microseconds, for what takes less than one. */
int64_t clock_mono_us(void);
/* Milliseconds since the epoch: for what is stored (polled_at). */
int64_t clock_wall_ms(void);

#endif
