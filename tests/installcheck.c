/*
 * installcheck.c - built by `make installcheck` against the installed
 * <smithers/wal.h>, libsmithers and smithers.pc, never against the tree:
 * proves that what `make install` puts down is enough to use the store.
 */
#include <errno.h>
#include <stdio.h>

#include <smithers/wal.h>

int main(void)
{
	struct wal *w = NULL;
	int rc = wal_open("/nonexistent-smithers-dir", NULL, &w);

	printf("schema version %d: %s\n", WAL_SCHEMA_VERSION, wal_errmsg(w));
	wal_close(w);
	return rc == -1 && errno == ENOENT ? 0 : 1;
}
