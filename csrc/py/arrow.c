/* The Arrow C Data and C Stream interfaces and the PyCapsule interface (structs in arrow.h).
 * Every table fastpkt hands out describes its rows as batches of
 * column specs (the fastpkt.frames protocol: name, kind, buffers or values); this file turns a
 * spec list into a struct ArrowArray of one record batch and an iterator of spec lists into
 * an ArrowArrayStream capsule. Buffers are copied into memory the arrays own, so releasing
 * an array (on any thread, at any time) needs no GIL; the stream takes the GIL only to
 * pull the next spec list from its Python iterator. */
#include "arrow.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- schemas ------------------------------------------------------------ */

typedef struct {
    char *format, *name;
    struct ArrowSchema *children_store; /* n_children schemas, pointed to by children */
    struct ArrowSchema **children;
} schema_priv;

static void schema_release(struct ArrowSchema *s)
{
    schema_priv *p = s->private_data;
    for (int64_t i = 0; i < s->n_children; i++)
        if (s->children[i]->release) s->children[i]->release(s->children[i]);
    if (s->dictionary && s->dictionary->release) s->dictionary->release(s->dictionary);
    free(s->dictionary);
    free(p->children_store);
    free(p->children);
    free(p->format);
    free(p->name);
    free(p);
    s->release = NULL;
}

int fp_arrow_schema_init(struct ArrowSchema *s, const char *format, const char *name, int64_t flags, int64_t n)
{
    memset(s, 0, sizeof *s);
    schema_priv *p = calloc(1, sizeof *p);
    if (p == NULL) return -1;
    p->format = strdup(format);
    p->name = strdup(name ? name : "");
    p->children_store = calloc((size_t)n + 1, sizeof *p->children_store);
    p->children = calloc((size_t)n + 1, sizeof *p->children);
    s->private_data = p;
    s->release = schema_release;
    if (!p->format || !p->name || !p->children_store || !p->children) {
        schema_release(s);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) p->children[i] = &p->children_store[i];
    s->format = p->format;
    s->name = p->name;
    s->flags = flags;
    s->n_children = n;
    s->children = p->children;
    return 0;
}

/* ---- arrays ------------------------------------------------------------- */

/* Freed arenas a producer may take again: a consumer that releases each batch before the next
 * but one hands its memory back, already mapped (fresh memory is faulted in and zeroed). */
#define POOL_SPARES 2

struct fp_arrow_pool {
    pthread_mutex_t mu;
    int refs;   /* the producer's and one per live arena of it */
    int open;   /* the producer still takes arenas */
    int n_spare;
    fp_arrow_arena *spare[POOL_SPARES];
};

struct fp_arrow_arena {
    atomic_long refs; /* the maker's and one per array holding buffers of it */
    uint8_t *base;
    size_t size, used;
    fp_arrow_pool *pool; /* its producer's, or NULL */
};

typedef struct {
    const void *buffers[3];
    void *owned[3];
    fp_arrow_arena *arena; /* where its buffers live instead (owned[] empty), or NULL */
    struct ArrowArray **children;
} array_priv;

/* One reference of pool dropped (mu not held): the last frees it. */
static void pool_unref(fp_arrow_pool *pool)
{
    pthread_mutex_lock(&pool->mu);
    int last = --pool->refs == 0;
    pthread_mutex_unlock(&pool->mu);
    if (last) {
        pthread_mutex_destroy(&pool->mu);
        free(pool);
    }
}

static void arena_free(fp_arrow_arena *ar)
{
    fp_arrow_pool *pool = ar->pool;
    free(ar->base);
    free(ar);
    if (pool) pool_unref(pool);
}

fp_arrow_pool *fp_arrow_pool_new(void)
{
    fp_arrow_pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL) return NULL;
    if (pthread_mutex_init(&pool->mu, NULL) != 0) {
        free(pool);
        return NULL;
    }
    pool->refs = 1;
    pool->open = 1;
    return pool;
}

void fp_arrow_pool_close(fp_arrow_pool *pool)
{
    if (pool == NULL) return;
    pthread_mutex_lock(&pool->mu);
    pool->open = 0;
    int n = pool->n_spare;
    fp_arrow_arena *spare[POOL_SPARES];
    memcpy(spare, pool->spare, sizeof spare);
    pool->n_spare = 0;
    pthread_mutex_unlock(&pool->mu);
    for (int i = 0; i < n; i++) arena_free(spare[i]);
    pool_unref(pool);
}

void fp_populate_write(void *p, size_t size)
{
#ifdef MADV_POPULATE_WRITE
    if (size < (256u << 10)) return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1), hi = ((uintptr_t)p + size) & ~(page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE); /* failing, the faults do it */
#else
    (void)p, (void)size;
#endif
}

fp_arrow_arena *fp_arrow_arena_new(size_t size, fp_arrow_pool *pool)
{
    fp_arrow_arena *ar = NULL;
    if (pool) {
        pthread_mutex_lock(&pool->mu);
        for (int i = 0; i < pool->n_spare; i++)
            if (pool->spare[i]->size >= size) { /* a stream's batches are one size, its last smaller */
                ar = pool->spare[i];
                pool->spare[i] = pool->spare[--pool->n_spare];
                break;
            }
        if (ar == NULL) pool->refs++; /* the new arena's */
        pthread_mutex_unlock(&pool->mu);
    }
    if (ar == NULL) {
        void *base = NULL;
        if ((ar = malloc(sizeof *ar)) == NULL || posix_memalign(&base, 64, size ? size : 64) != 0) {
            free(ar);
            if (pool) pool_unref(pool);
            return NULL;
        }
        ar->base = base;
        ar->size = size;
        ar->pool = pool;
        fp_populate_write(base, size); /* a batch writes every column of its rows */
    }
    atomic_init(&ar->refs, 1);
    ar->used = 0;
    return ar;
}

void fp_arrow_arena_release(fp_arrow_arena *ar)
{
    if (ar == NULL || atomic_fetch_sub(&ar->refs, 1) != 1) return;
    fp_arrow_pool *pool = ar->pool;
    if (pool) {
        pthread_mutex_lock(&pool->mu);
        int kept = pool->open && pool->n_spare < POOL_SPARES;
        if (kept) pool->spare[pool->n_spare++] = ar; /* keeps its pool reference */
        pthread_mutex_unlock(&pool->mu);
        if (kept) return;
    }
    arena_free(ar);
}

/* Padded to 64 bytes, plus 5 lines: the columns' sizes are multiples of 64 KiB, so unskewed
 * buffers would start in the same cache sets and a row's ~20 writes, one per column, would evict
 * each other (callgrind, 200k packets: 6.1 L1 write misses a row unskewed, 1.6 skewed). */
size_t fp_arrow_arena_size(size_t size) { return (size ? (size + 63) & ~(size_t)63 : 64) + 5 * 64; }

void *fp_arrow_arena_buffer(struct ArrowArray *a, int i, fp_arrow_arena *ar, size_t size, int zeroed)
{
    array_priv *p = a->private_data;
    size_t padded = fp_arrow_arena_size(size);
    if (ar->size - ar->used < padded || (p->arena && p->arena != ar)) return NULL;
    uint8_t *b = ar->base + ar->used; /* 64-byte aligned: the base is, every size is padded */
    ar->used += padded;
    memset(b + (zeroed ? 0 : size), 0, zeroed ? padded : padded - size);
    if (p->arena == NULL) {
        p->arena = ar;
        atomic_fetch_add(&ar->refs, 1);
    }
    p->buffers[i] = b;
    return b;
}

static void array_release(struct ArrowArray *a)
{
    array_priv *p = a->private_data;
    for (int64_t i = 0; i < a->n_children; i++) {
        if (a->children[i]->release) a->children[i]->release(a->children[i]);
        free(a->children[i]);
    }
    if (a->dictionary) {
        if (a->dictionary->release) a->dictionary->release(a->dictionary);
        free(a->dictionary);
    }
    for (int i = 0; i < 3; i++) free(p->owned[i]);
    fp_arrow_arena_release(p->arena);
    free(p->children);
    free(p);
    a->release = NULL;
}

int fp_arrow_array_init(struct ArrowArray *a, int64_t length, int64_t n_buffers, int64_t n_children)
{
    memset(a, 0, sizeof *a);
    array_priv *p = calloc(1, sizeof *p);
    if (p == NULL) return -1;
    p->children = calloc((size_t)n_children + 1, sizeof *p->children);
    a->private_data = p;
    a->release = array_release;
    a->length = length;
    a->n_buffers = n_buffers;
    a->buffers = p->buffers;
    if (p->children == NULL) return -1;
    a->children = p->children;
    for (int64_t i = 0; i < n_children; i++) {
        p->children[i] = calloc(1, sizeof(struct ArrowArray));
        if (p->children[i] == NULL) return -1;
        a->n_children = i + 1; /* released children are the ones allocated */
    }
    return 0;
}

void *fp_arrow_buffer_unzeroed(struct ArrowArray *a, int i, size_t size)
{
    array_priv *p = a->private_data;
    void *b = NULL;
    size_t padded = size ? (size + 63) & ~(size_t)63 : 64;
    if (posix_memalign(&b, 64, padded) != 0) return NULL;
    memset((char *)b + size, 0, padded - size);
    p->owned[i] = b;
    p->buffers[i] = b;
    return b;
}

void *fp_arrow_buffer(struct ArrowArray *a, int i, size_t size)
{
    void *b = fp_arrow_buffer_unzeroed(a, i, size);
    if (b) memset(b, 0, size);
    return b;
}

/* ---- column specs ------------------------------------------------------- */

typedef struct {
    const char *dtype; /* numpy-style code in the spec */
    const char *format;
    int width;         /* bytes per value; 0: bool (bit-packed from one byte per row) */
} plain_type;

static const plain_type plain_types[] = {
    {"<u1", "C", 1}, {"<u2", "S", 2}, {"<u4", "I", 4}, {"<u8", "L", 8}, {"<i1", "c", 1}, {"<i2", "s", 2},
    {"<i4", "i", 4}, {"<i8", "l", 8}, {"<f4", "f", 4}, {"<f8", "g", 8}, {"|b1", "b", 0},
    {"datetime64[ns]", "tsn:UTC", 8}, {"timedelta64[ns]", "tDn", 8},
};

static const plain_type *find_plain(const char *dtype)
{
    for (size_t i = 0; i < sizeof plain_types / sizeof plain_types[0]; i++)
        if (strcmp(plain_types[i].dtype, dtype) == 0) return &plain_types[i];
    return NULL;
}

typedef enum { SK_PLAIN, SK_MASKED, SK_CATEGORY, SK_STR, SK_BYTES, SK_LIST } spec_kind;

typedef struct {
    const char *name, *dtype;
    spec_kind kind;
    const plain_type *type; /* SK_PLAIN, SK_MASKED; SK_LIST: the item type (NULL: str) */
    int code_width;         /* SK_CATEGORY: bytes per code */
    PyObject *a, *b;        /* the spec's buffers or value lists (borrowed) */
    PyObject *cats;         /* SK_LIST of buffers, str items: the categories the item codes index */
} col_spec;

static int parse_spec(PyObject *spec, col_spec *c)
{
    memset(c, 0, sizeof *c);
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) < 3) {
        PyErr_SetString(PyExc_TypeError, "column spec: a tuple (name, dtype, data, ...) expected");
        return -1;
    }
    c->name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(spec, 0));
    c->dtype = c->name ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(spec, 1)) : NULL;
    if (c->dtype == NULL) return -1;
    c->a = PyTuple_GET_ITEM(spec, 2);
    c->b = PyTuple_GET_SIZE(spec) > 3 ? PyTuple_GET_ITEM(spec, 3) : NULL;
    c->cats = PyTuple_GET_SIZE(spec) > 4 ? PyTuple_GET_ITEM(spec, 4) : NULL;
    const char *d = c->dtype;
    if (strncmp(d, "masked", 6) == 0) {
        c->kind = SK_MASKED;
        c->type = find_plain(d + 6);
    } else if (strcmp(d, "category") == 0 || strcmp(d, "category<i2") == 0 || strcmp(d, "category<i1") == 0) {
        c->kind = SK_CATEGORY; /* codes of 4 bytes, or 2 or 1 (widened: a stream keeps one index type) */
        c->code_width = d[8] == 0 ? 4 : d[10] - '0';
    } else if (strcmp(d, "str") == 0) {
        c->kind = SK_STR;
    } else if (strcmp(d, "bytes") == 0) {
        c->kind = SK_BYTES;
    } else if (strncmp(d, "list<", 5) == 0) {
        c->kind = SK_LIST;
        if (strcmp(d, "list<str>") != 0) {
            char item[16] = "<"; /* list<u2> holds <u2 items */
            size_t n = strlen(d + 5);
            if (n < 2 || n + 1 > sizeof item) goto bad;
            memcpy(item + 1, d + 5, n - 1);
            item[n] = 0;
            c->type = find_plain(item);
            if (c->type == NULL || c->type->width == 0) goto bad;
        }
    } else {
        c->kind = SK_PLAIN;
        c->type = find_plain(d);
    }
    if ((c->kind == SK_PLAIN || c->kind == SK_MASKED) && c->type == NULL) goto bad;
    if ((c->kind == SK_MASKED || c->kind == SK_CATEGORY) && c->b == NULL) goto bad;
    if (c->kind == SK_LIST && c->b && (c->type == NULL) != (c->cats != NULL)) goto bad; /* str items need categories */
    return 0;
bad:
    PyErr_Format(PyExc_ValueError, "column %s: dtype %s has no Arrow mapping", c->name, d);
    return -1;
}

static const char *list_child_format(const col_spec *c) { return c->type ? c->type->format : "u"; }

static int column_schema(const col_spec *c, struct ArrowSchema *s)
{
    switch (c->kind) {
    case SK_PLAIN:
    case SK_MASKED:
        return fp_arrow_schema_init(s, c->type->format, c->name, ARROW_FLAG_NULLABLE, 0);
    case SK_CATEGORY:
        if (fp_arrow_schema_init(s, "i", c->name, ARROW_FLAG_NULLABLE, 0) < 0) return -1;
        s->dictionary = malloc(sizeof *s->dictionary);
        if (s->dictionary == NULL || fp_arrow_schema_init(s->dictionary, "u", "", ARROW_FLAG_NULLABLE, 0) < 0) {
            free(s->dictionary);
            s->dictionary = NULL;
            return -1;
        }
        return 0;
    case SK_STR:
        return fp_arrow_schema_init(s, "u", c->name, ARROW_FLAG_NULLABLE, 0);
    case SK_BYTES:
        return fp_arrow_schema_init(s, "Z", c->name, ARROW_FLAG_NULLABLE, 0);
    case SK_LIST:
        if (fp_arrow_schema_init(s, "+l", c->name, ARROW_FLAG_NULLABLE, 1) < 0) return -1;
        return fp_arrow_schema_init(s->children[0], list_child_format(c), "item", ARROW_FLAG_NULLABLE, 0);
    }
    return -1;
}

/* A copy of a spec buffer (bytes-like) that must hold n values of width w. */
static int take_buffer(const col_spec *c, PyObject *obj, int64_t n, int w, struct ArrowArray *a, int slot,
                       const uint8_t **bytes_out)
{
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0) return -1;
    int rc = -1;
    if (view.len != (Py_ssize_t)(n * w)) {
        PyErr_Format(PyExc_ValueError, "column %s: buffer of %zd bytes for %lld rows of %d bytes", c->name,
                     view.len, (long long)n, w);
    } else if (bytes_out) { /* the caller converts it (masks, bools): hand out a private copy */
        uint8_t *copy = PyMem_RawMalloc((size_t)view.len + 1);
        if (copy == NULL) {
            PyErr_NoMemory();
        } else {
            memcpy(copy, view.buf, (size_t)view.len);
            *bytes_out = copy;
            rc = 0;
        }
    } else {
        void *dst = fp_arrow_buffer(a, slot, (size_t)view.len);
        if (dst == NULL) PyErr_NoMemory();
        else {
            memcpy(dst, view.buf, (size_t)view.len);
            rc = 0;
        }
    }
    PyBuffer_Release(&view);
    return rc;
}

/* Validity bitmap from one flag byte per row (missing_is_one: 1 = missing, else 1 = valid). */
static int bitmap_from_bytes(struct ArrowArray *a, int slot, const uint8_t *flags, int64_t n, int missing_is_one,
                             int64_t *count_unset)
{
    uint8_t *bits = fp_arrow_buffer(a, slot, (size_t)(n + 7) / 8);
    if (bits == NULL) return -1;
    int64_t unset = 0;
    for (int64_t i = 0; i < n; i++) {
        int set = missing_is_one ? !flags[i] : flags[i] != 0;
        if (set) bits[i >> 3] |= (uint8_t)(1u << (i & 7));
        else unset++;
    }
    *count_unset = unset;
    return 0;
}

static int64_t spec_rows(const col_spec *c)
{
    if (c->kind == SK_LIST && c->b) { /* int32 offsets: one more than the rows */
        Py_buffer view;
        if (PyObject_GetBuffer(c->a, &view, PyBUF_SIMPLE) < 0) return -1;
        Py_ssize_t len = view.len;
        PyBuffer_Release(&view);
        if (len < 4 || len % 4) {
            PyErr_Format(PyExc_ValueError, "column %s: list offsets of %zd bytes", c->name, len);
            return -1;
        }
        return len / 4 - 1;
    }
    if (c->kind == SK_STR || c->kind == SK_BYTES || c->kind == SK_LIST) {
        Py_ssize_t n = PySequence_Size(c->a);
        return n;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(c->a, &view, PyBUF_SIMPLE) < 0) return -1;
    Py_ssize_t len = view.len;
    PyBuffer_Release(&view);
    int w = c->kind == SK_CATEGORY ? c->code_width : c->type->width ? c->type->width : 1;
    return len / w;
}

static int plain_array(const col_spec *c, int64_t n, struct ArrowArray *a)
{
    if (fp_arrow_array_init(a, n, 2, 0) < 0) return -1;
    const uint8_t *mask = NULL, *vals = NULL;
    int rc = -1;
    if (c->kind == SK_MASKED && take_buffer(c, c->b, n, 1, a, 0, &mask) < 0) goto out;
    if (c->type->width == 0) { /* bools: one byte per row to one bit */
        int64_t unused;
        if (take_buffer(c, c->a, n, 1, a, 1, &vals) < 0 || bitmap_from_bytes(a, 1, vals, n, 0, &unused) < 0)
            goto out;
    } else if (take_buffer(c, c->a, n, c->type->width, a, 1, NULL) < 0) {
        goto out;
    }
    if (mask && bitmap_from_bytes(a, 0, mask, n, 1, &a->null_count) < 0) goto out;
    rc = 0;
out:
    PyMem_RawFree((void *)mask);
    PyMem_RawFree((void *)vals);
    if (rc < 0 && !PyErr_Occurred()) PyErr_NoMemory();
    return rc;
}

/* Offsets (int32, or int64 when wide) and data of a list of str/bytes/None; nulls as None. */
static int binary_array(const col_spec *c, PyObject *seq, int64_t n, int wide, struct ArrowArray *a)
{
    if (fp_arrow_array_init(a, n, 3, 0) < 0) return -1;
    PyObject *fast = PySequence_Fast(seq, "column values must be a sequence");
    if (fast == NULL) return -1;
    int rc = -1;
    int64_t total = 0;
    PyObject **items = PySequence_Fast_ITEMS(fast);
    for (int64_t i = 0; i < n; i++) {
        PyObject *o = items[i];
        Py_ssize_t len = 0;
        if (o == Py_None) continue;
        if (PyUnicode_Check(o)) {
            if (PyUnicode_AsUTF8AndSize(o, &len) == NULL) goto out;
        } else if (PyBytes_Check(o)) {
            len = PyBytes_GET_SIZE(o);
        } else {
            PyErr_Format(PyExc_TypeError, "column %s, row %lld: str, bytes or None expected, not %s", c->name,
                         (long long)i, Py_TYPE(o)->tp_name);
            goto out;
        }
        total += len;
    }
    if (!wide && total > INT32_MAX) {
        PyErr_Format(PyExc_OverflowError, "column %s: %lld bytes of text in one batch", c->name, (long long)total);
        goto out;
    }
    uint8_t *valid = fp_arrow_buffer(a, 0, (size_t)(n + 7) / 8);
    uint8_t *offsets = fp_arrow_buffer(a, 1, (size_t)(n + 1) * (wide ? 8 : 4));
    uint8_t *data = fp_arrow_buffer(a, 2, (size_t)total);
    if (!valid || !offsets || !data) {
        PyErr_NoMemory();
        goto out;
    }
    int64_t pos = 0;
    for (int64_t i = 0; i <= n; i++) {
        if (wide) memcpy(offsets + 8 * i, &pos, 8);
        else {
            int32_t p32 = (int32_t)pos;
            memcpy(offsets + 4 * i, &p32, 4);
        }
        if (i == n) break;
        PyObject *o = items[i];
        if (o == Py_None) {
            a->null_count++;
            continue;
        }
        valid[i >> 3] |= (uint8_t)(1u << (i & 7));
        Py_ssize_t len;
        const char *p = PyUnicode_Check(o) ? PyUnicode_AsUTF8AndSize(o, &len) : PyBytes_AS_STRING(o);
        if (!PyUnicode_Check(o)) len = PyBytes_GET_SIZE(o);
        memcpy(data + pos, p, (size_t)len);
        pos += len;
    }
    rc = 0;
out:
    Py_DECREF(fast);
    return rc;
}

static int category_array(const col_spec *c, int64_t n, struct ArrowArray *a)
{
    if (fp_arrow_array_init(a, n, 2, 0) < 0) return -1;
    const uint8_t *narrow = NULL;
    if (c->code_width == 4) {
        if (take_buffer(c, c->a, n, 4, a, 1, NULL) < 0) return -1;
    } else {
        int32_t *wide = fp_arrow_buffer(a, 1, (size_t)n * 4);
        if (wide == NULL || take_buffer(c, c->a, n, c->code_width, a, 1, &narrow) < 0) return -1;
        for (int64_t i = 0; i < n; i++) {
            int16_t v16;
            if (c->code_width == 1) wide[i] = (int8_t)narrow[i];
            else {
                memcpy(&v16, narrow + 2 * i, 2);
                wide[i] = v16;
            }
        }
        PyMem_RawFree((void *)narrow);
    }
    const int32_t *codes = ((array_priv *)a->private_data)->buffers[1];
    Py_ssize_t ncat = PySequence_Size(c->b);
    if (ncat < 0) return -1;
    uint8_t *valid = fp_arrow_buffer(a, 0, (size_t)(n + 7) / 8);
    if (valid == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (int64_t i = 0; i < n; i++) {
        if (codes[i] >= 0 && codes[i] < ncat) valid[i >> 3] |= (uint8_t)(1u << (i & 7));
        else if (codes[i] < 0) a->null_count++;
        else {
            PyErr_Format(PyExc_ValueError, "column %s, row %lld: code %d past %zd categories", c->name,
                         (long long)i, codes[i], ncat);
            return -1;
        }
    }
    a->dictionary = malloc(sizeof *a->dictionary);
    if (a->dictionary == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    a->dictionary->release = NULL;
    return binary_array(c, c->b, ncat, 0, a->dictionary);
}

/* list<T> from buffers: int32 offsets (n + 1, from 0, never decreasing), the items (values
 * of T, or int32 codes into the categories for str), no nulls. Checked: the specs may come
 * from Python. */
static int list_array_buffers(const col_spec *c, int64_t n, struct ArrowArray *a)
{
    if (fp_arrow_array_init(a, n, 2, 1) < 0 || take_buffer(c, c->a, n + 1, 4, a, 1, NULL) < 0) return -1;
    const int32_t *offsets = ((array_priv *)a->private_data)->buffers[1];
    int w = c->type ? c->type->width : 4;
    Py_buffer items;
    if (PyObject_GetBuffer(c->b, &items, PyBUF_SIMPLE) < 0) return -1;
    int64_t m = items.len / w;
    int rc = -1;
    for (int64_t i = 0; i < n; i++)
        if (offsets[i] > offsets[i + 1]) goto bad_offsets;
    if (offsets[0] != 0 || offsets[n] > m || items.len % w) goto bad_offsets;
    m = offsets[n];
    struct ArrowArray *child = a->children[0];
    if (c->type) { /* plain items: copied */
        if (fp_arrow_array_init(child, m, 2, 0) < 0) goto out;
        void *vals = fp_arrow_buffer(child, 1, (size_t)m * (size_t)w);
        if (vals == NULL) goto out;
        memcpy(vals, items.buf, (size_t)m * (size_t)w);
        rc = 0;
        goto out;
    }
    /* str items: each code's category, as UTF-8 */
    Py_ssize_t ncat = PySequence_Size(c->cats);
    PyObject *fast = ncat < 0 ? NULL : PySequence_Fast(c->cats, "categories must be a sequence");
    if (fast == NULL) goto out;
    const int32_t *codes = items.buf;
    int64_t total = 0;
    for (int64_t j = 0; j < m; j++) {
        Py_ssize_t len;
        if (codes[j] < 0 || codes[j] >= ncat) {
            PyErr_Format(PyExc_ValueError, "column %s, item %lld: code %d past %zd categories", c->name,
                         (long long)j, codes[j], ncat);
            goto out_fast;
        }
        if (PyUnicode_AsUTF8AndSize(PySequence_Fast_GET_ITEM(fast, codes[j]), &len) == NULL) goto out_fast;
        total += len;
    }
    if (total > INT32_MAX) {
        PyErr_Format(PyExc_OverflowError, "column %s: %lld bytes of text in one batch", c->name, (long long)total);
        goto out_fast;
    }
    if (fp_arrow_array_init(child, m, 3, 0) < 0) goto out_fast;
    int32_t *str_off = fp_arrow_buffer(child, 1, (size_t)(m + 1) * 4);
    uint8_t *data = fp_arrow_buffer(child, 2, (size_t)total);
    if (str_off == NULL || data == NULL) goto out_fast;
    int32_t pos = 0;
    for (int64_t j = 0; j < m; j++) {
        Py_ssize_t len;
        const char *p = PyUnicode_AsUTF8AndSize(PySequence_Fast_GET_ITEM(fast, codes[j]), &len);
        str_off[j] = pos;
        memcpy(data + pos, p, (size_t)len);
        pos += (int32_t)len;
    }
    str_off[m] = pos;
    rc = 0;
out_fast:
    Py_DECREF(fast);
    goto out;
bad_offsets:
    PyErr_Format(PyExc_ValueError, "column %s: list offsets out of order or past %lld items", c->name, (long long)m);
out:
    PyBuffer_Release(&items);
    return rc;
}

/* list<T>: a sequence of sequences (or None) flattened into offsets and one child. */
static int list_array(const col_spec *c, int64_t n, struct ArrowArray *a)
{
    if (c->b) return list_array_buffers(c, n, a);
    if (fp_arrow_array_init(a, n, 2, 1) < 0) return -1;
    PyObject *fast = PySequence_Fast(c->a, "column values must be a sequence");
    if (fast == NULL) return -1;
    PyObject *flat = PyList_New(0);
    int rc = -1;
    uint8_t *valid = fp_arrow_buffer(a, 0, (size_t)(n + 7) / 8);
    int32_t *offsets = fp_arrow_buffer(a, 1, (size_t)(n + 1) * 4);
    if (!flat || !valid || !offsets) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto out;
    }
    PyObject **items = PySequence_Fast_ITEMS(fast);
    for (int64_t i = 0; i < n; i++) {
        offsets[i] = (int32_t)PyList_GET_SIZE(flat);
        if (items[i] == Py_None) {
            a->null_count++;
            continue;
        }
        valid[i >> 3] |= (uint8_t)(1u << (i & 7));
        PyObject *ext = PyObject_CallMethod(flat, "extend", "(O)", items[i]);
        if (ext == NULL) goto out;
        Py_DECREF(ext);
    }
    int64_t m = PyList_GET_SIZE(flat);
    if (m > INT32_MAX) {
        PyErr_Format(PyExc_OverflowError, "column %s: too many items in one batch", c->name);
        goto out;
    }
    offsets[n] = (int32_t)m;
    struct ArrowArray *child = a->children[0];
    if (c->type == NULL) {
        rc = binary_array(c, flat, m, 0, child);
        goto out;
    }
    if (fp_arrow_array_init(child, m, 2, 0) < 0) {
        PyErr_NoMemory();
        goto out;
    }
    uint8_t *vals = fp_arrow_buffer(child, 1, (size_t)m * (size_t)c->type->width);
    if (vals == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    int w = c->type->width;
    if (c->type->format[0] == 'g') { /* list<f8>: doubles (TTLs in seconds) */
        for (int64_t j = 0; j < m; j++) {
            double v = PyFloat_AsDouble(PyList_GET_ITEM(flat, j));
            if (v == -1.0 && PyErr_Occurred()) goto out;
            memcpy(vals + 8 * j, &v, 8);
        }
        rc = 0;
        goto out;
    }
    for (int64_t j = 0; j < m; j++) {
        unsigned long long v = PyLong_AsUnsignedLongLongMask(PyList_GET_ITEM(flat, j));
        if (v == (unsigned long long)-1 && PyErr_Occurred()) goto out;
        if (w == 1) vals[j] = (uint8_t)v;
        else if (w == 2) { uint16_t x = (uint16_t)v; memcpy(vals + 2 * j, &x, 2); }
        else if (w == 4) { uint32_t x = (uint32_t)v; memcpy(vals + 4 * j, &x, 4); }
        else memcpy(vals + 8 * j, &v, 8);
    }
    rc = 0;
out:
    Py_XDECREF(flat);
    Py_DECREF(fast);
    return rc;
}

static int column_array(const col_spec *c, int64_t n, struct ArrowArray *a)
{
    int rc;
    switch (c->kind) {
    case SK_PLAIN:
    case SK_MASKED: rc = plain_array(c, n, a); break;
    case SK_CATEGORY: rc = category_array(c, n, a); break;
    case SK_STR: rc = binary_array(c, c->a, n, 0, a); break;
    case SK_BYTES: rc = binary_array(c, c->a, n, 1, a); break;
    case SK_LIST: rc = list_array(c, n, a); break;
    default: rc = -1;
    }
    if (rc < 0 && !PyErr_Occurred()) PyErr_NoMemory();
    return rc;
}

/* A record batch (struct array) from a spec list; its schema too when s is not NULL. */
static int batch_from_specs(PyObject *specs, struct ArrowArray *a, struct ArrowSchema *s)
{
    PyObject *fast = PySequence_Fast(specs, "a list of column specs expected");
    if (fast == NULL) return -1;
    Py_ssize_t ncols = PySequence_Fast_GET_SIZE(fast);
    PyObject **items = PySequence_Fast_ITEMS(fast);
    int rc = -1;
    int64_t n = -1;
    if (a) a->release = NULL;
    if (s) s->release = NULL;
    col_spec *cs = PyMem_Calloc((size_t)ncols + 1, sizeof *cs);
    if (cs == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t k = 0; k < ncols; k++) {
        if (parse_spec(items[k], &cs[k]) < 0) goto out;
        int64_t rows = spec_rows(&cs[k]);
        if (rows < 0) goto out;
        if (n >= 0 && rows != n) {
            PyErr_Format(PyExc_ValueError, "column %s has %lld rows, the ones before it %lld", cs[k].name,
                         (long long)rows, (long long)n);
            goto out;
        }
        n = rows;
    }
    if (s) {
        if (fp_arrow_schema_init(s, "+s", "", 0, ncols) < 0) {
            PyErr_NoMemory();
            goto out;
        }
        for (Py_ssize_t k = 0; k < ncols; k++)
            if (column_schema(&cs[k], s->children[k]) < 0) {
                PyErr_NoMemory();
                goto out;
            }
    }
    if (a != NULL) {
        if (fp_arrow_array_init(a, n < 0 ? 0 : n, 1, ncols) < 0) {
            PyErr_NoMemory();
            goto out;
        }
        for (Py_ssize_t k = 0; k < ncols; k++)
            if (column_array(&cs[k], n, a->children[k]) < 0) goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        if (a && a->release) a->release(a);
        if (s && s->release) s->release(s);
    }
    PyMem_Free(cs);
    Py_DECREF(fast);
    return rc;
}

/* ---- the stream ------------------------------------------------------------ */

typedef struct {
    PyObject *schema_specs; /* a 0-row batch: the stream's schema */
    PyObject *batches;      /* iterator of spec lists */
    char error[1024];
} stream_priv;

int fp_arrow_error_text(char *buf, size_t size)
{
    PyObject *type, *exc, *tb;
    PyErr_Fetch(&type, &exc, &tb);
    PyErr_NormalizeException(&type, &exc, &tb);
    PyObject *text = exc ? PyObject_Str(exc) : NULL;
    const char *msg = text ? PyUnicode_AsUTF8(text) : NULL;
    snprintf(buf, size, "%s: %s", exc ? Py_TYPE(exc)->tp_name : "error", msg ? msg : "?");
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(exc);
    Py_XDECREF(tb);
    PyErr_Clear();
    return EIO;
}

static int stream_fail(stream_priv *p) { return fp_arrow_error_text(p->error, sizeof p->error); }

static int stream_get_schema(struct ArrowArrayStream *st, struct ArrowSchema *out)
{
    stream_priv *p = st->private_data;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = batch_from_specs(p->schema_specs, NULL, out) < 0 ? stream_fail(p) : 0;
    PyGILState_Release(g);
    return rc;
}

static int stream_get_next(struct ArrowArrayStream *st, struct ArrowArray *out)
{
    stream_priv *p = st->private_data;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = 0;
    out->release = NULL; /* end of stream unless a batch comes */
    PyObject *specs = p->batches ? PyIter_Next(p->batches) : NULL;
    if (specs == NULL) {
        if (PyErr_Occurred()) rc = stream_fail(p);
        else Py_CLEAR(p->batches);
    } else {
        if (batch_from_specs(specs, out, NULL) < 0) rc = stream_fail(p);
        Py_DECREF(specs);
    }
    PyGILState_Release(g);
    return rc;
}

static const char *stream_last_error(struct ArrowArrayStream *st)
{
    stream_priv *p = st->private_data;
    return p->error[0] ? p->error : NULL;
}

static void stream_release(struct ArrowArrayStream *st)
{
    stream_priv *p = st->private_data;
    PyGILState_STATE g = PyGILState_Ensure();
    Py_XDECREF(p->schema_specs);
    Py_XDECREF(p->batches);
    PyGILState_Release(g);
    free(p);
    st->release = NULL;
}

static void stream_capsule_free(PyObject *capsule)
{
    struct ArrowArrayStream *st = PyCapsule_GetPointer(capsule, "arrow_array_stream");
    if (st == NULL) {
        PyErr_Clear();
        return;
    }
    if (st->release) st->release(st);
    free(st);
}

static void schema_capsule_free(PyObject *capsule)
{
    struct ArrowSchema *s = PyCapsule_GetPointer(capsule, "arrow_schema");
    if (s == NULL) {
        PyErr_Clear();
        return;
    }
    if (s->release) s->release(s);
    free(s);
}

PyObject *fp_arrow_stream_capsule(struct ArrowArrayStream *st)
{
    PyObject *cap = PyCapsule_New(st, "arrow_array_stream", stream_capsule_free);
    if (cap == NULL) {
        st->release(st);
        free(st);
    }
    return cap;
}

static PyObject *arrow_stream(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_arrow_stream(schema_specs, batches) takes 2 arguments");
        return NULL;
    }
    struct ArrowSchema check; /* refuse a schema we could not describe now, not at first read */
    if (batch_from_specs(args[0], NULL, &check) < 0) return NULL;
    check.release(&check);
    PyObject *it = PyObject_GetIter(args[1]);
    if (it == NULL) return NULL;
    struct ArrowArrayStream *st = calloc(1, sizeof *st);
    stream_priv *p = calloc(1, sizeof *p);
    PyObject *cap = st && p ? PyCapsule_New(st, "arrow_array_stream", stream_capsule_free) : NULL;
    if (cap == NULL) {
        free(st);
        free(p);
        Py_DECREF(it);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    p->schema_specs = Py_NewRef(args[0]);
    p->batches = it;
    st->private_data = p;
    st->get_schema = stream_get_schema;
    st->get_next = stream_get_next;
    st->get_last_error = stream_last_error;
    st->release = stream_release;
    return cap;
}

PyObject *fp_arrow_schema_capsule(struct ArrowSchema *s)
{
    PyObject *cap = PyCapsule_New(s, "arrow_schema", schema_capsule_free);
    if (cap == NULL) {
        s->release(s);
        free(s);
    }
    return cap;
}

static PyObject *arrow_schema(PyObject *mod, PyObject *specs)
{
    (void)mod;
    struct ArrowSchema *s = malloc(sizeof *s);
    if (s == NULL) return PyErr_NoMemory();
    if (batch_from_specs(specs, NULL, s) < 0) {
        free(s);
        return NULL;
    }
    return fp_arrow_schema_capsule(s);
}

/* ---- table methods and notebook views: thin calls into fastpkt.tables / fastpkt.views ---- */

#define TABLE_METHOD(cname, func)                                                   \
    PyObject *cname(PyObject *self, PyObject *args, PyObject *kwargs)               \
    {                                                                               \
        return fp_call_method_py("fastpkt.tables", func, self, args, kwargs);       \
    }
TABLE_METHOD(fp_table_arrow_c_stream, "arrow_c_stream")
TABLE_METHOD(fp_table_arrow_c_schema, "arrow_c_schema")
TABLE_METHOD(fp_table_to_pandas, "to_pandas")
TABLE_METHOD(fp_table_to_arrow, "to_arrow")
TABLE_METHOD(fp_table_to_polars, "to_polars")
TABLE_METHOD(fp_table_to_parquet, "to_parquet")
TABLE_METHOD(fp_table_to_csv, "to_csv")
TABLE_METHOD(fp_table_record_batches, "record_batches")

PyObject *fp_view_html(PyObject *self, PyObject *unused)
{
    (void)unused;
    return fp_call_method_py("fastpkt.views", "html", self, NULL, NULL);
}

static PyMethodDef view_method = {"_repr_html_", fp_view_html, METH_NOARGS, "Notebook view (fastpkt.views)."};

int fp_add_view_method(PyTypeObject *tp)
{
    PyObject *descr = PyDescr_NewMethod(tp, &view_method);
    if (descr == NULL) return -1;
    int rc = PyObject_SetAttrString((PyObject *)tp, "_repr_html_", descr);
    Py_DECREF(descr);
    return rc;
}

/* _list_cells(offsets, items, categories): the rows of a list column given as buffers (the
 * pandas side of the spec) as a list of tuples. str items are the categories themselves
 * (one object per distinct text); f8 items (categories None) share one float per value seen
 * recently; empty rows are the empty tuple. */
#define CELL_FLOAT_CACHE 1024

static PyObject *list_cells(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_list_cells(offsets, items, categories) takes 3 arguments");
        return NULL;
    }
    col_spec c = {.name = "_list_cells", .kind = SK_LIST, .a = args[0], .b = args[1]};
    c.cats = args[2] == Py_None ? NULL : args[2];
    c.type = c.cats ? NULL : find_plain("<f8");
    int64_t n = spec_rows(&c);
    if (n < 0) return NULL;
    /* the Arrow path checks offsets and codes: build the array, then read it back */
    struct ArrowArray a = {0};
    if (list_array_buffers(&c, n, &a) < 0) {
        if (a.release) a.release(&a);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return NULL;
    }
    const int32_t *off = ((array_priv *)a.private_data)->buffers[1];
    Py_buffer items;
    PyObject *out = NULL, *fast = NULL;
    if (PyObject_GetBuffer(args[1], &items, PyBUF_SIMPLE) < 0) goto done;
    fast = c.cats ? PySequence_Fast(c.cats, "categories must be a sequence") : NULL;
    if (c.cats && fast == NULL) goto release;
    struct {
        uint64_t bits;
        PyObject *obj;
    } cache[CELL_FLOAT_CACHE] = {{0, NULL}};
    out = PyList_New((Py_ssize_t)n);
    for (int64_t i = 0; out && i < n; i++) {
        PyObject *t = PyTuple_New(off[i + 1] - off[i]);
        if (t == NULL) {
            Py_CLEAR(out);
            break;
        }
        for (int32_t j = off[i]; j < off[i + 1]; j++) {
            PyObject *v;
            if (fast) {
                int32_t code;
                memcpy(&code, (const uint8_t *)items.buf + 4 * (size_t)j, 4);
                v = Py_NewRef(PySequence_Fast_GET_ITEM(fast, code));
            } else {
                double d;
                uint64_t bits;
                memcpy(&d, (const uint8_t *)items.buf + 8 * (size_t)j, 8);
                memcpy(&bits, &d, 8);
                size_t h = (size_t)((bits * 0x9E3779B97F4A7C15ull) >> 54) % CELL_FLOAT_CACHE;
                if (cache[h].obj == NULL || cache[h].bits != bits) {
                    PyObject *f = PyFloat_FromDouble(d);
                    if (f == NULL) {
                        Py_DECREF(t);
                        Py_CLEAR(out);
                        break;
                    }
                    Py_XSETREF(cache[h].obj, f);
                    cache[h].bits = bits;
                }
                v = Py_NewRef(cache[h].obj);
            }
            PyTuple_SET_ITEM(t, j - off[i], v);
        }
        if (out) PyList_SET_ITEM(out, (Py_ssize_t)i, t);
    }
    for (int k = 0; k < CELL_FLOAT_CACHE; k++) Py_XDECREF(cache[k].obj);
    Py_XDECREF(fast);
release:
    PyBuffer_Release(&items);
done:
    a.release(&a);
    return out;
}

static PyMethodDef arrow_functions[] = {
    {"_list_cells", (PyCFunction)(void (*)(void))list_cells, METH_FASTCALL,
     "_list_cells(offsets, items, categories): a list column given as buffers as a list of tuples."},
    {"_arrow_stream", (PyCFunction)(void (*)(void))arrow_stream, METH_FASTCALL,
     "_arrow_stream(schema_specs, batches): an 'arrow_array_stream' PyCapsule whose record batches\n"
     "come from an iterator of column-spec lists (fastpkt.frames); schema_specs is a 0-row batch."},
    {"_arrow_schema", arrow_schema, METH_O,
     "_arrow_schema(specs): an 'arrow_schema' PyCapsule describing a column-spec list."},
    {NULL},
};

int fp_arrow_register(PyObject *m) { return PyModule_AddFunctions(m, arrow_functions); }
