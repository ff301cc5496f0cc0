/* Shared values for the per-packet attribute path: address text and unsigned ints.
 *
 * A loop over packets reads the same few addresses, ports and lengths again and again;
 * making a new str (formatting the address) or int (ports and lengths are mostly past
 * CPython's small-int cache) per access cost more than the rest of the access. Both
 * tables are direct-mapped by a hash of the key: a hit is one compare and an incref, a
 * miss makes the object and replaces the slot's previous one. So each table holds at
 * most its slot count of objects whatever the capture (bound tested with
 * _hot_cache_info()), and a capture of distinct values only costs the misses. Values are
 * immutable str and int, so sharing them is invisible to users. Module state, GIL held. */
#include "pyfp.h"
#include "../dissect/cursor.h"

#include <string.h>

#define ADDR_SLOTS 4096u /* power of two */
#define INT_SLOTS 4096u
#define INT_MAX_CACHED (1u << 30) /* one 30-bit digit: every object the same size */

typedef struct {
    uint32_t key[4];
    uint32_t len; /* 4 or 16; 0 for an empty slot */
    PyObject *str;
} addr_slot;

typedef struct {
    uint32_t key;
    PyObject *obj; /* NULL for an empty slot */
} int_slot;

/* A hot view's fields (packet.c) as one tuple, keyed by the header bytes they are read from. */
#define FIELDS_SLOTS 4096u
#define FIELDS6_SLOTS 1024u
#define FIELDS_KEY 9 /* words: an IPv6 pair and the protocol */
typedef struct {
    uint32_t key[FIELDS_KEY];
    PyObject *tuple; /* NULL for an empty slot */
} fields_slot;

struct fp_hotcache {
    addr_slot addr[ADDR_SLOTS];
    int_slot ints[INT_SLOTS];
    fields_slot ip4[FIELDS_SLOTS], ports[FIELDS_SLOTS], ip6[FIELDS6_SLOTS];
    size_t addr_n, addr_bytes, int_n, tuple_n;
    uint64_t addr_hits, addr_misses, int_hits, int_misses, tuple_hits, tuple_misses;
};

static struct fp_hotcache *hotcache(fp_state *st)
{
    if (__builtin_expect(st->hot != NULL, 1)) return st->hot;
    st->hot = PyMem_Calloc(1, sizeof *st->hot);
    return st->hot;
}

static size_t str_bytes(PyObject *s) { return sizeof(PyASCIIObject) + (size_t)PyUnicode_GET_LENGTH(s) + 1; }

PyObject *fp_hot_addr_str(fp_state *st, const uint8_t *p, unsigned len)
{
    struct fp_hotcache *c = hotcache(st);
    if (c == NULL) return len == 4 ? fp_ip4_str(p) : fp_ip6_str(p);
    uint32_t key[4] = {0, 0, 0, 0};
    if (len == 4) memcpy(key, p, 4); /* fixed sizes: inlined */
    else memcpy(key, p, 16);
    uint32_t h = (key[0] ^ (key[1] * 0x85ebca6bu) ^ (key[2] * 0xc2b2ae35u) ^ (key[3] * 0x27d4eb2fu)) *
                 0x9e3779b1u;
    addr_slot *s = &c->addr[(h >> 20) & (ADDR_SLOTS - 1)];
    if (s->len == len && memcmp(s->key, key, sizeof key) == 0) {
        c->addr_hits++;
        return Py_NewRef(s->str);
    }
    c->addr_misses++;
    PyObject *str = len == 4 ? fp_ip4_str(p) : fp_ip6_str(p);
    if (str == NULL) return NULL;
    if (s->len) {
        c->addr_bytes -= str_bytes(s->str);
        Py_DECREF(s->str); /* a str: no code runs */
    } else {
        c->addr_n++;
    }
    memcpy(s->key, key, sizeof key);
    s->len = len;
    s->str = Py_NewRef(str);
    c->addr_bytes += str_bytes(str);
    return str;
}

PyObject *fp_hot_uint(fp_state *st, uint32_t v)
{
    struct fp_hotcache *c;
    if (v < 256 || v >= INT_MAX_CACHED || (c = hotcache(st)) == NULL) /* CPython caches < 257 */
        return PyLong_FromUnsignedLong(v);
    int_slot *s = &c->ints[v & (INT_SLOTS - 1)];
    if (s->obj != NULL && s->key == v) {
        c->int_hits++;
        return Py_NewRef(s->obj);
    }
    c->int_misses++;
    PyObject *o = PyLong_FromUnsignedLong(v);
    if (o == NULL) return NULL;
    if (s->obj) Py_DECREF(s->obj);
    else c->int_n++;
    s->key = v;
    s->obj = Py_NewRef(o);
    return o;
}

/* The tuple of `key` (n words) in a table of `slots` slots, made by make(st, arg) on a miss
 * (replacing the slot's previous one). New reference, or NULL with an exception. */
static inline PyObject *fields_tuple(fp_state *st, fields_slot *table, unsigned slots, const uint32_t *key,
                                     unsigned n, PyObject *(*make)(fp_state *, const uint8_t *, unsigned),
                                     const uint8_t *hdr, unsigned proto)
{
    struct fp_hotcache *c = st->hot;
    uint32_t h = 0, diff = 0;
    for (unsigned i = 0; i < n; i++) h = (h ^ key[i]) * 0x9e3779b1u; /* n is constant: unrolled */
    fields_slot *s = &table[(h >> 16) & (slots - 1)];
    for (unsigned i = 0; i < n; i++) diff |= s->key[i] ^ key[i];
    if (s->tuple != NULL && diff == 0) {
        c->tuple_hits++;
        return Py_NewRef(s->tuple);
    }
    c->tuple_misses++;
    PyObject *t = make(st, hdr, proto);
    if (t == NULL) return NULL;
    if (s->tuple) Py_DECREF(s->tuple); /* a tuple of str and int: no code runs */
    else c->tuple_n++;
    memcpy(s->key, key, n * sizeof *key);
    s->tuple = Py_NewRef(t);
    return t;
}

static PyObject *make_ip_fields(fp_state *st, const uint8_t *hdr, unsigned proto, unsigned at, unsigned len)
{
    PyObject *src = fp_hot_addr_str(st, hdr + at, len), *dst = src ? fp_hot_addr_str(st, hdr + at + len, len) : NULL;
    PyObject *p = dst ? PyLong_FromUnsignedLong(proto) : NULL;
    PyObject *t = p ? PyTuple_Pack(3, src, dst, p) : NULL;
    Py_XDECREF(src);
    Py_XDECREF(dst);
    Py_XDECREF(p);
    return t;
}
static PyObject *make_ip4(fp_state *st, const uint8_t *hdr, unsigned proto) { return make_ip_fields(st, hdr, proto, 12, 4); }
static PyObject *make_ip6(fp_state *st, const uint8_t *hdr, unsigned proto) { return make_ip_fields(st, hdr, proto, 8, 16); }
static PyObject *make_ports(fp_state *st, const uint8_t *hdr, unsigned proto)
{
    (void)proto;
    PyObject *sp = fp_hot_uint(st, fp_load_be16(hdr)), *dp = sp ? fp_hot_uint(st, fp_load_be16(hdr + 2)) : NULL;
    PyObject *t = dp ? PyTuple_Pack(2, sp, dp) : NULL;
    Py_XDECREF(sp);
    Py_XDECREF(dp);
    return t;
}

PyObject *fp_hot_ip4_fields(fp_state *st, const uint8_t *hdr)
{
    if (hotcache(st) == NULL) return PyErr_NoMemory();
    uint32_t key[3] = {0, 0, hdr[9]};
    memcpy(key, hdr + 12, 8);
    return fields_tuple(st, st->hot->ip4, FIELDS_SLOTS, key, 3, make_ip4, hdr, hdr[9]);
}

PyObject *fp_hot_ip6_fields(fp_state *st, const uint8_t *hdr, unsigned proto)
{
    if (hotcache(st) == NULL) return PyErr_NoMemory();
    uint32_t key[FIELDS_KEY];
    memcpy(key, hdr + 8, 32);
    key[8] = proto;
    return fields_tuple(st, st->hot->ip6, FIELDS6_SLOTS, key, FIELDS_KEY, make_ip6, hdr, proto);
}

PyObject *fp_hot_port_fields(fp_state *st, const uint8_t *hdr)
{
    if (hotcache(st) == NULL) return PyErr_NoMemory();
    uint32_t key[1];
    memcpy(key, hdr, 4);
    return fields_tuple(st, st->hot->ports, FIELDS_SLOTS, key, 1, make_ports, hdr, 0);
}

void fp_hotcache_free(fp_state *st)
{
    struct fp_hotcache *c = st->hot;
    if (c == NULL) return;
    st->hot = NULL;
    for (unsigned i = 0; i < FIELDS_SLOTS; i++) {
        Py_XDECREF(c->ip4[i].tuple);
        Py_XDECREF(c->ports[i].tuple);
    }
    for (unsigned i = 0; i < FIELDS6_SLOTS; i++) Py_XDECREF(c->ip6[i].tuple);
    for (unsigned i = 0; i < ADDR_SLOTS; i++)
        if (c->addr[i].len) Py_DECREF(c->addr[i].str);
    for (unsigned i = 0; i < INT_SLOTS; i++) Py_XDECREF(c->ints[i].obj);
    PyMem_Free(c);
}

static PyObject *hot_cache_info(PyObject *m, PyObject *unused)
{
    (void)unused;
    const struct fp_hotcache *c = fp_state_from_module(m)->hot;
    size_t addr_n = c ? c->addr_n : 0, addr_bytes = c ? c->addr_bytes : 0, int_n = c ? c->int_n : 0;
    size_t int_bytes = int_n * sizeof(PyLongObject);
    /* a tuple of three (IP) or two (ports); the str and int in it are counted above while
     * those tables hold them too */
    size_t tuple_n = c ? c->tuple_n : 0, tuple_bytes = tuple_n * (sizeof(PyTupleObject) + 2 * sizeof(PyObject *));
    PyObject *info = Py_BuildValue("{sIsnsnsKsKsIsnsnsKsKsn}", "address_slots", ADDR_SLOTS, "addresses", (Py_ssize_t)addr_n,
                         "address_bytes", (Py_ssize_t)addr_bytes, "address_hits",
                         (unsigned long long)(c ? c->addr_hits : 0), "address_misses",
                         (unsigned long long)(c ? c->addr_misses : 0), "int_slots", INT_SLOTS, "ints",
                         (Py_ssize_t)int_n, "int_bytes", (Py_ssize_t)int_bytes, "int_hits",
                         (unsigned long long)(c ? c->int_hits : 0), "int_misses",
                         (unsigned long long)(c ? c->int_misses : 0), "bytes",
                         (Py_ssize_t)((c ? sizeof *c : 0) + addr_bytes + int_bytes + tuple_bytes));
    PyObject *more = info ? Py_BuildValue("{sIsnsnsKsK}", "tuple_slots", 2 * FIELDS_SLOTS + FIELDS6_SLOTS, "tuples",
                                          (Py_ssize_t)tuple_n, "tuple_bytes", (Py_ssize_t)tuple_bytes, "tuple_hits",
                                          (unsigned long long)(c ? c->tuple_hits : 0), "tuple_misses",
                                          (unsigned long long)(c ? c->tuple_misses : 0))
                        : NULL;
    if (more == NULL || PyDict_Update(info, more) < 0) Py_CLEAR(info);
    Py_XDECREF(more);
    return info;
}

static PyMethodDef hotcache_functions[] = {
    {"_hot_cache_info", hot_cache_info, METH_NOARGS,
     "The shared address-text and int tables of packet attributes: slots, entries, bytes\n"
     "(tables and objects they hold), hits and misses."},
    {NULL, NULL, 0, NULL},
};

int fp_hotcache_register(PyObject *m) { return PyModule_AddFunctions(m, hotcache_functions); }
