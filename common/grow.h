/*
 * grow.h - dynamic arrays that double: room for one more item.
 *
 * An array is a pointer (T *) and a capacity in items (size_t), its length
 * kept by the caller. cm_grow() takes the address of that pointer as a
 * plain void *, and reads and writes the pointer with memcpy: a T * is
 * never accessed through a void * lvalue (which strict aliasing forbids,
 * the fault of the usual `grow(void **arr, ...)`).
 */
#ifndef SMITHERS_COMMON_GROW_H
#define SMITHERS_COMMON_GROW_H

#include <stddef.h>

/*
 * Make room for item N (index N, so N + 1 items) in the array whose
 * pointer is at ARRP (a T **, the array of *CAP items of SIZE bytes each):
 * nothing when N < *CAP; else the capacity doubles (from 8) until it
 * holds N, the new items are zeroed, and *ARRP and *CAP are updated.
 * 0, or -1 with errno ENOMEM (out of memory, or a size past SIZE_MAX),
 * the array and *CAP untouched.
 */
int cm_grow(void *arrp, size_t *cap, size_t n, size_t size);

/* cm_grow() for the array ARR (an lvalue of type T *) with capacity CAP
 * (an lvalue of type size_t): CM_GROW(v->items, v->cap, v->n). */
#define CM_GROW(arr, cap, n) cm_grow(&(arr), &(cap), (n), sizeof(*(arr)))

#endif /* SMITHERS_COMMON_GROW_H */
