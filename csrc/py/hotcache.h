/* The hot cache's tables (hotcache.c), declared here so that their hits, a hash, a compare
 * and a reference, inline into the per-packet fill (packet.c) and the field getters: a call
 * to hotcache.c cost more than the hit itself. Misses go to hotcache.c. */
#ifndef FP_PY_HOTCACHE_H
#define FP_PY_HOTCACHE_H

#include "pyfp.h"

#include <string.h>

#define ADDR_SLOTS 4096u /* power of two */
#define INT_SLOTS 4096u
#define INT_MAX_CACHED (1u << 30) /* one 30-bit digit: every object the same size */
#define SMALL_INTS 256u /* CPython's own cached ints, referenced here so a hit makes no call */

typedef struct {
    uint32_t key[4];
    uint32_t len; /* 4 or 16; 0 for an empty slot */
    PyObject *str;
} addr_slot;

typedef struct {
    uint32_t key;
    PyObject *obj; /* NULL for an empty slot */
} int_slot;

/* A hot view's field objects (packet.c) keyed by the header bytes they are read from: IPv4
 * src, dst, protocol; IPv6 src, dst and the upper protocol; a port pair. The views take their
 * own references (no tuple between: one table line per view, no object more to touch). */
#define FIELDS_SLOTS 4096u
#define FIELDS6_SLOTS 1024u
typedef struct {
    uint32_t key[3];
    PyObject *obj[3]; /* obj[0] NULL for an empty slot */
} ip4_slot;
typedef struct {
    uint32_t key[9];
    PyObject *obj[3];
} ip6_slot;
typedef struct {
    uint32_t key[1];
    PyObject *obj[2];
} port_slot;

struct fp_hotcache {
    addr_slot addr[ADDR_SLOTS];
    int_slot ints[INT_SLOTS];
    ip4_slot ip4[FIELDS_SLOTS];
    port_slot ports[FIELDS_SLOTS];
    ip6_slot ip6[FIELDS6_SLOTS];
    PyObject *small[SMALL_INTS];
    size_t addr_n, addr_bytes, int_n, field_n, field_bytes;
    uint64_t addr_hits, addr_misses, int_hits, int_misses, field_hits, field_misses;
};

/* The misses: make the value(s), replace the slot's, new references (NULL / -1 with an
 * exception). Called by the hits below, never on their own. */
PyObject *fp_hot_uint_miss(fp_state *st, uint32_t v);
int fp_hot_ip4_fields_miss(fp_state *st, const uint8_t *hdr, PyObject **out);
int fp_hot_ip6_fields_miss(fp_state *st, const uint8_t *hdr, unsigned proto, PyObject **out);
int fp_hot_port_fields_miss(fp_state *st, const uint8_t *hdr, PyObject **out);

/* An unsigned int: below 256 CPython's own (referenced by the table), else from a bounded
 * table keyed by value (ports, lengths). New reference, NULL with an exception. */
static inline PyObject *fp_hot_uint(fp_state *st, uint32_t v)
{
    struct fp_hotcache *c = st->hot;
    if (__builtin_expect(c != NULL, 1)) {
        if (v < SMALL_INTS) return Py_NewRef(c->small[v]);
        int_slot *s = &c->ints[v & (INT_SLOTS - 1)];
        if (s->obj != NULL && s->key == v) { /* keys are all below INT_MAX_CACHED */
            c->int_hits++;
            return Py_NewRef(s->obj);
        }
    }
    return fp_hot_uint_miss(st, v);
}

/* Declares s_, the slot of `key` (n 32-bit words) in a table of `slots` slots, and returns from
 * the enclosing function with out[] set to new references to its n_obj objects when it holds
 * that key (0). Alone it is the inlined hit path (fp_hot_*_fields); FIELDS_LOOKUP adds the miss.
 * Hashed and compared two words at a time (an IPv6 key is 9 words: 5 multiplies, not 9). */
#define FIELDS_HIT(c, table, slots, key, n, n_obj, out)                                            \
    uint64_t h_ = 0, diff_ = 0;                                                                    \
    for (unsigned i_ = 0; i_ + 1 < (n); i_ += 2) {                                                 \
        uint64_t w_;                                                                               \
        memcpy(&w_, &(key)[i_], 8);                                                                \
        h_ = (h_ ^ w_) * 0x9e3779b97f4a7c15u;                                                      \
    }                                                                                              \
    if ((n) & 1) h_ = (h_ ^ (key)[(n) - 1]) * 0x9e3779b97f4a7c15u;                                 \
    __typeof__(&(table)[0]) s_ = &(table)[(h_ >> 40) & ((slots) - 1)];                             \
    for (unsigned i_ = 0; i_ + 1 < (n); i_ += 2) {                                                 \
        uint64_t a_, b_;                                                                           \
        memcpy(&a_, &s_->key[i_], 8);                                                              \
        memcpy(&b_, &(key)[i_], 8);                                                                \
        diff_ |= a_ ^ b_;                                                                          \
    }                                                                                              \
    if ((n) & 1) diff_ |= s_->key[(n) - 1] ^ (key)[(n) - 1];                                       \
    if (s_->obj[0] != NULL && diff_ == 0) {                                                        \
        (c)->field_hits++;                                                                         \
        for (int k_ = 0; k_ < (n_obj); k_++) (out)[k_] = Py_NewRef(s_->obj[k_]);                   \
        return 0;                                                                                  \
    }

/* A hot view's field objects, shared through a direct-mapped table keyed by the bytes they are
 * read from, as new references in out[]: IPv4 src, dst, proto of a header of >= 20 bytes;
 * IPv6 src, dst of >= 40 bytes and its upper protocol; TCP/UDP sport, dport of >= 4 bytes.
 * 0, or -1 with an exception. */
static inline int fp_hot_ip4_fields(fp_state *st, const uint8_t *hdr, PyObject **out)
{
    struct fp_hotcache *c = st->hot;
    if (__builtin_expect(c != NULL, 1)) {
        uint32_t key[3] = {0, 0, hdr[9]};
        memcpy(key, hdr + 12, 8);
        FIELDS_HIT(c, c->ip4, FIELDS_SLOTS, key, 3, 3, out)
    }
    return fp_hot_ip4_fields_miss(st, hdr, out);
}

static inline int fp_hot_ip6_fields(fp_state *st, const uint8_t *hdr, unsigned proto, PyObject **out)
{
    struct fp_hotcache *c = st->hot;
    if (__builtin_expect(c != NULL, 1)) {
        uint32_t key[9];
        memcpy(key, hdr + 8, 32);
        key[8] = proto;
        FIELDS_HIT(c, c->ip6, FIELDS6_SLOTS, key, 9, 3, out)
    }
    return fp_hot_ip6_fields_miss(st, hdr, proto, out);
}

static inline int fp_hot_port_fields(fp_state *st, const uint8_t *hdr, PyObject **out)
{
    struct fp_hotcache *c = st->hot;
    if (__builtin_expect(c != NULL, 1)) {
        uint32_t key[1];
        memcpy(key, hdr, 4);
        FIELDS_HIT(c, c->ports, FIELDS_SLOTS, key, 1, 2, out)
    }
    return fp_hot_port_fields_miss(st, hdr, out);
}

#endif
