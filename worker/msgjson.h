/*
 * msgjson.h - msgpack values as JSON text, and UTF-8 validation: the middle
 * layer of the protocol codec, private to worker/. Its callers hold
 * msgpack_object values (msgpack.h); this header names the type only.
 */
#ifndef SMITHERS_WORKER_MSGJSON_H
#define SMITHERS_WORKER_MSGJSON_H

#include <stdbool.h>
#include <stddef.h>

#include "worker/frame.h"

struct msgpack_object;

/* Whether S (N bytes) is valid UTF-8: no overlong forms, no surrogates,
 * nothing above U+10FFFF. NUL bytes are valid here. */
bool wrk_utf8_valid(const char *s, size_t n);

/* What O is, for an error message: "a string", "an array", ... */
const char *wrk_msgpack_kind(const struct msgpack_object *o);

/*
 * Append O as JSON text to OUT (docs/PROTOCOL.md, section 5), not
 * NUL-terminated. 0, or -1 with errno: ENOMEM, or EBADMSG with E set when
 * O holds what JSON cannot (binary, an extension, a non-string map key,
 * NaN, an infinity, a string that is not UTF-8); FIELD and TYPE (a field
 * and its message's type) name the value in that message. OUT may hold
 * part of the text after an error.
 */
int wrk_msgpack_to_json(struct wrk_buf *out, const struct msgpack_object *o,
			struct wrk_err *e, const char *field, const char *type);

#endif /* SMITHERS_WORKER_MSGJSON_H */
