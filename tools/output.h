/*
 * output.h - rendering the rows the store hands out (struct wal_row) for
 * people (aligned tables, one line per row) or for programs (JSON).
 *
 * Shapes: a list (a table, or a JSON array of objects), an object (name and
 * value lines, or one JSON object), and an object holding named lists (the
 * JSON object gets one array member per list; the text gets a titled table
 * after the object's lines).
 */
#ifndef SMITHERS_TOOLS_OUTPUT_H
#define SMITHERS_TOOLS_OUTPUT_H

#include <stdio.h>

#include "wal/wal.h"

struct out;

/* A renderer writing to FP (borrowed): JSON when JSON, else text. NULL on
 * ENOMEM. */
struct out *out_new(FILE *fp, int json);
/* Free O; out_free(NULL) is a no-op. */
void out_free(struct out *o);

/*
 * Begin a list. NAME names it inside an object (NULL at top level). COLS,
 * when not NULL, is the NULL-terminated list of the columns a table shows
 * (those present, in that order; JSON always has every column); it also
 * gives the header of an empty table.
 */
void out_list_begin(struct out *o, const char *name, const char *const *cols);
/* A wal_row_fn adding ROW to the current list; ARG is the struct out. A
 * change of columns (a query of several statements) starts a new table.
 * Returns 0, or -1 on ENOMEM. */
int out_row(const struct wal_row *row, void *arg);
/* How many rows the open list has had so far. */
long out_rows(const struct out *o);
/* End the list: print the table, or close the array. */
void out_list_end(struct out *o);

/* Begin an object with the columns of ROW as its members. */
void out_object_begin(struct out *o, const struct wal_row *row);
/* End the object. */
void out_object_end(struct out *o);

/* Print the JSON document for SQL NULL (a missing single thing). */
void out_json_null(struct out *o);

/* Write TEXT as a JSON string: escaped (control characters, DEL, U+2028
 * and U+2029 too), each byte that is not UTF-8 as U+FFFD. */
void out_json_string(FILE *fp, const char *text);

/* Non-zero when TEXT is exactly one valid JSON value (RFC 8259) as jansson
 * reads it: a number past a double's range, or a NUL in a key, is not. */
int out_json_valid(const char *text);

/* Set from the locale: whether text output may use UTF-8. Call once. */
void out_init_locale(void);

#endif /* SMITHERS_TOOLS_OUTPUT_H */
