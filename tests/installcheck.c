/*
 * installcheck.c - built by `make installcheck` against the installed
 * <smithers/wal.h>, libsmithers and smithers.pc, never against the tree:
 * proves that what `make install` puts down is enough to use the store and
 * the agents' client library.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <smithers.h>
#include <smithers/wal.h>

int main(void)
{
	struct wal *w = NULL;
	struct smithers *s;
	int rc = wal_open("/nonexistent-smithers-dir", NULL, &w), ok;

	printf("schema version %d: %s\n", WAL_SCHEMA_VERSION, wal_errmsg(w));
	ok = rc == -1 && errno == ENOENT;
	wal_close(w);
	/* Not under a supervisor: the client says so. */
	unsetenv("SMITHERS_FD");
	unsetenv("SMITHERS_SOCKET");
	s = smithers_open();
	printf("client: %s\n", s ? "connected?" : smithers_strerror_last());
	ok = ok && !s;
	return ok ? 0 : 1;
}
