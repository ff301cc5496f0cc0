/* The Arrow C Data and C Stream interfaces (https://arrow.apache.org/docs/format/CDataInterface.html,
 * CStreamInterface.html): the ABI is three plain structs, declared here from the specification,
 * and the helpers arrow.c builds its arrays with, for the native producers (packets, packetlist.c). */
#ifndef FP_ARROW_H
#define FP_ARROW_H

#include "pyfp.h"

#define ARROW_FLAG_NULLABLE 2

struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

struct ArrowArrayStream {
    int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
    int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
    const char *(*get_last_error)(struct ArrowArrayStream *);
    void (*release)(struct ArrowArrayStream *);
    void *private_data;
};

/* A schema node owning copies of its strings and room for n children (filled by the caller);
 * -1 when out of memory (s is released). */
int fp_arrow_schema_init(struct ArrowSchema *s, const char *format, const char *name, int64_t flags, int64_t n);
/* An array with n_buffers empty buffer slots and n_children zeroed children; -1 when out of
 * memory (a->release frees what was made). Released with free() only: no GIL needed. */
int fp_arrow_array_init(struct ArrowArray *a, int64_t length, int64_t n_buffers, int64_t n_children);
/* Buffer i of a: owned by a, zeroed, 64-byte aligned, at least 64 bytes; NULL when out of memory. */
void *fp_arrow_buffer(struct ArrowArray *a, int i, size_t size);
/* The same with only its padding past size zeroed: for buffers the caller writes whole. */
void *fp_arrow_buffer_unzeroed(struct ArrowArray *a, int i, size_t size);
/* One allocation for every buffer of a batch, shared by
 * the arrays holding buffers of it and released with the last reference (a consumer may release
 * a batch's columns apart, on any thread): back to its pool when that has room, else freed.
 * size: the sum of fp_arrow_arena_size() of its buffers. NULL when out of memory. The maker
 * drops its reference with fp_arrow_arena_release(). */
typedef struct fp_arrow_arena fp_arrow_arena;
/* A producer's spare arenas (at most 2, taken again by fp_arrow_arena_new): a streamed export
 * whose consumer releases batches as it goes reuses their memory. Closed by the producer (its
 * spares freed); arenas still held by the consumer free themselves later. */
typedef struct fp_arrow_pool fp_arrow_pool;
fp_arrow_pool *fp_arrow_pool_new(void);
void fp_arrow_pool_close(fp_arrow_pool *pool);
fp_arrow_arena *fp_arrow_arena_new(size_t size, fp_arrow_pool *pool);
/* Map the pages of fresh heap memory about to be written whole in one call instead of a fault
 * every 4 KiB (pages already mapped are left as they are; small spans are left to the faults). */
void fp_populate_write(void *p, size_t size);
void fp_arrow_arena_release(fp_arrow_arena *ar);
size_t fp_arrow_arena_size(size_t size);
/* Buffer i of a, taken from ar (a then holds a reference to it): 64-byte aligned, zeroed or
 * only its padding past size zeroed; NULL when ar has no room (or a's buffers live elsewhere). */
void *fp_arrow_arena_buffer(struct ArrowArray *a, int i, fp_arrow_arena *ar, size_t size, int zeroed);
/* The pending Python exception as "Type: message" in buf (for get_last_error), cleared;
 * returns EIO, get_next's error code. Needs the GIL. */
int fp_arrow_error_text(char *buf, size_t size);
/* An 'arrow_array_stream' PyCapsule owning st (malloc'd; released with the capsule). */
PyObject *fp_arrow_stream_capsule(struct ArrowArrayStream *st);
/* An 'arrow_schema' PyCapsule owning s (malloc'd). */
PyObject *fp_arrow_schema_capsule(struct ArrowSchema *s);

#endif
