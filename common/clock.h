/*
 * clock.h - the two clocks smithers reads, in whole milliseconds or
 * microseconds as int64_t.
 *
 * Monotonic time is for intervals and deadlines (it never jumps, it stops
 * counting nowhere but across a suspend); wall time is for what is stored
 * or shown (rows, the shm heartbeat). Neither can fail on Linux: there is
 * no error return.
 */
#ifndef SMITHERS_COMMON_CLOCK_H
#define SMITHERS_COMMON_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC, in ms since an arbitrary point (the boot). */
int64_t cm_mono_ms(void);
/* CLOCK_MONOTONIC, in us since the same point. */
int64_t cm_mono_us(void);

/* CLOCK_REALTIME, in ms since the Unix epoch. */
int64_t cm_wall_ms(void);
/* CLOCK_REALTIME, in us since the Unix epoch. */
int64_t cm_wall_us(void);

/* Sleep MS milliseconds, the whole of them (through EINTR). */
void cm_sleep_ms(int ms);

#endif /* SMITHERS_COMMON_CLOCK_H */
