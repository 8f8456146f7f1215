/*
 * io.c - cm_write_all (io.h): a whole buffer to a file descriptor, across
 * short writes (pipes, signals) and EINTR.
 */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "common/io.h"

int cm_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			/* Not for len > 0 on Linux; looping would spin. */
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
