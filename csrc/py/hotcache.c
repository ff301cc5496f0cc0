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
#include "hotcache.h"
#include "../dissect/cursor.h"

#include <string.h>

static struct fp_hotcache *hotcache(fp_state *st)
{
    if (__builtin_expect(st->hot != NULL, 1)) return st->hot;
    struct fp_hotcache *c = PyMem_Calloc(1, sizeof *st->hot);
    if (c == NULL) return NULL;
    for (unsigned i = 0; i < SMALL_INTS; i++) c->small[i] = PyLong_FromLong((long)i); /* never fails */
    st->hot = c;
    return c;
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

/* fp_hot_uint's miss: a new int, which replaces the slot's (none past one digit). */
PyObject *fp_hot_uint_miss(fp_state *st, uint32_t v)
{
    struct fp_hotcache *c;
    if (v >= INT_MAX_CACHED || (c = hotcache(st)) == NULL) return PyLong_FromUnsignedLong(v);
    if (v < SMALL_INTS) return Py_NewRef(c->small[v]); /* the table was made just now */
    int_slot *s = &c->ints[v & (INT_SLOTS - 1)];
    c->int_misses++;
    PyObject *o = PyLong_FromUnsignedLong(v);
    if (o == NULL) return NULL;
    if (s->obj) Py_DECREF(s->obj);
    else c->int_n++;
    s->key = v;
    s->obj = Py_NewRef(o);
    return o;
}

static size_t obj_bytes(PyObject *o) { return PyUnicode_Check(o) ? str_bytes(o) : sizeof(PyLongObject); }

/* FIELDS_HIT, then on a miss the n_obj objects made by the statement `make` (filling `made[]`,
 * or leaving made[0] NULL with an exception) replace the slot's. Sets out[] to new
 * references; 0, or -1 with an exception. */
#define FIELDS_LOOKUP(st, table, slots, key, n, n_obj, out, make)                                 \
    do {                                                                                           \
        struct fp_hotcache *c_ = (st)->hot;                                                        \
        FIELDS_HIT(c_, table, slots, key, n, n_obj, out)                                           \
        c_->field_misses++;                                                                        \
        PyObject *made[3] = {NULL, NULL, NULL};                                                    \
        make;                                                                                      \
        if (made[0] == NULL) return -1;                                                            \
        if (s_->obj[0] == NULL) c_->field_n++;                                                     \
        for (int k_ = 0; k_ < (n_obj); k_++) {                                                     \
            if (s_->obj[k_]) { /* str and int: no code runs */                                     \
                c_->field_bytes -= obj_bytes(s_->obj[k_]);                                         \
                Py_DECREF(s_->obj[k_]);                                                            \
            }                                                                                      \
            c_->field_bytes += obj_bytes(made[k_]);                                                \
            s_->obj[k_] = made[k_];                                                                \
            (out)[k_] = Py_NewRef(made[k_]);                                                       \
        }                                                                                          \
        memcpy(s_->key, (key), (n) * sizeof(uint32_t));                                            \
        return 0;                                                                                  \
    } while (0)

/* src, dst (address text of `len` bytes at hdr + at) and the protocol into made[]; made[0]
 * NULL with an exception when one could not be made. */
static void make_ip_fields(fp_state *st, const uint8_t *hdr, unsigned at, unsigned len, unsigned proto,
                           PyObject **made)
{
    made[0] = fp_hot_addr_str(st, hdr + at, len);
    made[1] = made[0] ? fp_hot_addr_str(st, hdr + at + len, len) : NULL;
    made[2] = made[1] ? PyLong_FromUnsignedLong(proto) : NULL;
    if (made[2] == NULL) {
        Py_CLEAR(made[0]);
        Py_CLEAR(made[1]);
    }
}

static void make_ports(fp_state *st, const uint8_t *hdr, PyObject **made)
{
    made[0] = fp_hot_uint(st, fp_load_be16(hdr));
    made[1] = made[0] ? fp_hot_uint(st, fp_load_be16(hdr + 2)) : NULL;
    if (made[1] == NULL) Py_CLEAR(made[0]);
}

/* The misses of hotcache.h's hits. */
int fp_hot_ip4_fields_miss(fp_state *st, const uint8_t *hdr, PyObject **out)
{
    if (hotcache(st) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    uint32_t key[3] = {0, 0, hdr[9]};
    memcpy(key, hdr + 12, 8);
    FIELDS_LOOKUP(st, st->hot->ip4, FIELDS_SLOTS, key, 3, 3, out, make_ip_fields(st, hdr, 12, 4, hdr[9], made));
}

int fp_hot_ip6_fields_miss(fp_state *st, const uint8_t *hdr, unsigned proto, PyObject **out)
{
    if (hotcache(st) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    uint32_t key[9];
    memcpy(key, hdr + 8, 32);
    key[8] = proto;
    FIELDS_LOOKUP(st, st->hot->ip6, FIELDS6_SLOTS, key, 9, 3, out, make_ip_fields(st, hdr, 8, 16, proto, made));
}

int fp_hot_port_fields_miss(fp_state *st, const uint8_t *hdr, PyObject **out)
{
    if (hotcache(st) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    uint32_t key[1];
    memcpy(key, hdr, 4);
    FIELDS_LOOKUP(st, st->hot->ports, FIELDS_SLOTS, key, 1, 2, out, make_ports(st, hdr, made));
}

void fp_hotcache_free(fp_state *st)
{
    struct fp_hotcache *c = st->hot;
    if (c == NULL) return;
    st->hot = NULL;
    for (unsigned i = 0; i < FIELDS_SLOTS; i++) {
        for (int k = 0; k < 3; k++) Py_XDECREF(c->ip4[i].obj[k]);
        for (int k = 0; k < 2; k++) Py_XDECREF(c->ports[i].obj[k]);
    }
    for (unsigned i = 0; i < FIELDS6_SLOTS; i++)
        for (int k = 0; k < 3; k++) Py_XDECREF(c->ip6[i].obj[k]);
    for (unsigned i = 0; i < ADDR_SLOTS; i++)
        if (c->addr[i].len) Py_DECREF(c->addr[i].str);
    for (unsigned i = 0; i < INT_SLOTS; i++) Py_XDECREF(c->ints[i].obj);
    for (unsigned i = 0; i < SMALL_INTS; i++) Py_XDECREF(c->small[i]);
    PyMem_Free(c);
}

static PyObject *hot_cache_info(PyObject *m, PyObject *unused)
{
    (void)unused;
    const struct fp_hotcache *c = fp_state_from_module(m)->hot;
    size_t addr_n = c ? c->addr_n : 0, addr_bytes = c ? c->addr_bytes : 0, int_n = c ? c->int_n : 0;
    size_t int_bytes = int_n * sizeof(PyLongObject);
    size_t field_n = c ? c->field_n : 0, field_bytes = c ? c->field_bytes : 0;
    PyObject *info = Py_BuildValue("{sIsnsnsKsKsIsnsnsKsKsn}", "address_slots", ADDR_SLOTS, "addresses", (Py_ssize_t)addr_n,
                         "address_bytes", (Py_ssize_t)addr_bytes, "address_hits",
                         (unsigned long long)(c ? c->addr_hits : 0), "address_misses",
                         (unsigned long long)(c ? c->addr_misses : 0), "int_slots", INT_SLOTS, "ints",
                         (Py_ssize_t)int_n, "int_bytes", (Py_ssize_t)int_bytes, "int_hits",
                         (unsigned long long)(c ? c->int_hits : 0), "int_misses",
                         (unsigned long long)(c ? c->int_misses : 0), "bytes",
                         (Py_ssize_t)((c ? sizeof *c : 0) + addr_bytes + int_bytes + field_bytes));
    /* the hot views' field sets; their objects' bytes count here too when the tables above
     * hold the same objects (an upper bound) */
    PyObject *more = info ? Py_BuildValue("{sIsnsnsKsK}", "field_slots", 2 * FIELDS_SLOTS + FIELDS6_SLOTS,
                                          "field_sets", (Py_ssize_t)field_n, "field_bytes", (Py_ssize_t)field_bytes,
                                          "field_hits", (unsigned long long)(c ? c->field_hits : 0),
                                          "field_misses", (unsigned long long)(c ? c->field_misses : 0))
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
