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

struct fp_hotcache {
    addr_slot addr[ADDR_SLOTS];
    int_slot ints[INT_SLOTS];
    size_t addr_n, addr_bytes, int_n;
    uint64_t addr_hits, addr_misses, int_hits, int_misses;
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

void fp_hotcache_free(fp_state *st)
{
    struct fp_hotcache *c = st->hot;
    if (c == NULL) return;
    st->hot = NULL;
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
    return Py_BuildValue("{sIsnsnsKsKsIsnsnsKsKsn}", "address_slots", ADDR_SLOTS, "addresses", (Py_ssize_t)addr_n,
                         "address_bytes", (Py_ssize_t)addr_bytes, "address_hits",
                         (unsigned long long)(c ? c->addr_hits : 0), "address_misses",
                         (unsigned long long)(c ? c->addr_misses : 0), "int_slots", INT_SLOTS, "ints",
                         (Py_ssize_t)int_n, "int_bytes", (Py_ssize_t)int_bytes, "int_hits",
                         (unsigned long long)(c ? c->int_hits : 0), "int_misses",
                         (unsigned long long)(c ? c->int_misses : 0), "bytes",
                         (Py_ssize_t)((c ? sizeof *c : 0) + addr_bytes + int_bytes));
}

static PyMethodDef hotcache_functions[] = {
    {"_hot_cache_info", hot_cache_info, METH_NOARGS,
     "The shared address-text and int tables of packet attributes: slots, entries, bytes\n"
     "(tables and objects they hold), hits and misses."},
    {NULL, NULL, 0, NULL},
};

int fp_hotcache_register(PyObject *m) { return PyModule_AddFunctions(m, hotcache_functions); }
