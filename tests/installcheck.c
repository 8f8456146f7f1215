/*
 * installcheck.c - built by `make installcheck` against the installed
 * <smithers.h>, <smithers/shm.h>, libsmithers and smithers.pc, never
 * against the tree: proves that what `make install` puts down is enough
 * for an agent (the client) and a monitor (the shared-memory reader), and
 * no more.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <smithers.h>
#include <smithers/shm.h>

/* The installed shm.h declares the readers only: were the supervisor's
 * writer declared, this would redefine its options and not compile. */
struct shm_writer_options {
	int not_in_the_installed_header;
};

int main(void)
{
	char err[256] = "";
	struct shm_reader *r;
	struct smithers *s;
	int ok;

	/* Not under a supervisor: the client says so. */
	unsetenv("SMITHERS_FD");
	unsetenv("SMITHERS_SOCKET");
	s = smithers_open();
	printf("client: %s\n", s ? "connected?" : smithers_strerror_last());
	ok = !s;
	/* No supervisor ran here: no segment. */
	r = shm_reader_open("/nonexistent-smithers-dir", err, sizeof(err));
	printf("shm reader: %s\n", r ? "open?" : err);
	ok = ok && !r && errno == ENOENT;
	shm_reader_close(r);
	return ok ? 0 : 1;
}
