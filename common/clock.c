/*
 * clock.c - the monotonic and wall clocks in ms and us (clock.h).
 *
 * Truncated, never rounded: a reading is never ahead of the clock, so two
 * readings in a row never go backwards.
 */
#include "config.h"

#include <errno.h>
#include <time.h>

#include "common/clock.h"

static int64_t read_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t cm_mono_ms(void)
{
	return read_us(CLOCK_MONOTONIC) / 1000;
}

int64_t cm_mono_us(void)
{
	return read_us(CLOCK_MONOTONIC);
}

int64_t cm_wall_ms(void)
{
	return read_us(CLOCK_REALTIME) / 1000;
}

int64_t cm_wall_us(void)
{
	return read_us(CLOCK_REALTIME);
}

void cm_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
