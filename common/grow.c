/*
 * grow.c - cm_grow (grow.h): doubling arrays without type punning.
 *
 * The caller's pointer is copied out with memcpy, reallocated, and copied
 * back: it is only ever read and written as the bytes of a pointer, which
 * is defined for any object pointer type whose representation is that of
 * void * (every platform smithers builds on; POSIX relies on it too).
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"

#define FIRST_CAP 8

int cm_grow(void *arrp, size_t *cap, size_t n, size_t size)
{
	size_t ncap = *cap;
	void *arr, *grown;

	assert(arrp && size > 0);
	if (n < *cap)
		return 0;
	while (ncap <= n) {
		if (ncap > SIZE_MAX / 2)
			goto nomem;
		ncap = ncap ? ncap * 2 : FIRST_CAP;
	}
	if (ncap > SIZE_MAX / size)
		goto nomem;
	memcpy(&arr, arrp, sizeof(arr));
	grown = realloc(arr, ncap * size);
	if (!grown)
		goto nomem;
	memset((char *)grown + *cap * size, 0, (ncap - *cap) * size);
	memcpy(arrp, &grown, sizeof(grown));
	*cap = ncap;
	return 0;
nomem:
	errno = ENOMEM;
	return -1;
}
