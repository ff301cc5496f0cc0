/* Categorical column builders (see columns.c). */
#ifndef FP_COLUMNS_H
#define FP_COLUMNS_H

#include "pyfp.h"

/* Word-at-a-time multiplicative hash: keys are short (addresses, names); the interners'
 * and the summary's tables. */
static inline uint32_t fp_hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)p[i] << (8 * i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return (uint32_t)h;
}

/* Open-addressing interner: distinct keys get codes 0..n-1 (categorical codes).
 * Zero-initialise before use; fp_interner_free() after. `oom` is sticky. */
/* A code's key: what a probe compares sits in one 32-byte record (a lookup that missed the cache
 * waited for the slot, then for the hash, the key words and the length in four arrays). */
typedef struct {
    uint64_t k0, k1; /* fixed keys (addresses, bit sets) are compared as integers */
    uint32_t hash;
    uint32_t off;    /* variable keys: offset in arena */
    uint32_t len;    /* (a DNS answer's text may pass 64 KiB) */
} fp_intern_key;

typedef struct {
    uint32_t *slots; /* code + 1, 0 = empty */
    uint32_t cap, count;
    fp_intern_key *keys; /* by code */
    uint8_t *arena;
    size_t arena_len, arena_cap;
    int oom;
    int32_t last_code; /* runs of equal keys (anomalies, link addresses) skip the hash */
} fp_interner;

typedef enum { FP_CAT_IP, FP_CAT_MAC, FP_CAT_TEXT, FP_CAT_ANOMALY } fp_cat_kind;

/* Codes for variable keys (names); -1 when out of memory. */
int32_t fp_intern_bytes(fp_interner *t, const uint8_t *key, size_t n);
/* Codes for keys of at most 16 bytes given as two words and a length (addresses:
 * n = 4 or 16 for IP, 6 for MAC; anomaly bit sets: n = 8). A repeat of the last key is answered
 * inline (runs of anomalies and link addresses); the hash lookup is out of line. */
int32_t fp_intern_fixed_lookup(fp_interner *t, uint64_t k0, uint64_t k1, uint16_t n);
static inline int32_t fp_intern_fixed(fp_interner *t, uint64_t k0, uint64_t k1, uint16_t n)
{
    if (t->count && !t->oom) {
        const fp_intern_key *last = &t->keys[t->last_code];
        if (last->k0 == k0 && last->k1 == k1 && last->len == n) return t->last_code;
    }
    return fp_intern_fixed_lookup(t, k0, k1, n);
}
void fp_interner_free(fp_interner *t);
/* The bytes of code c's key (fp_intern_bytes keys); never NULL, even for empty keys. */
static inline const uint8_t *fp_interner_key(const fp_interner *t, uint32_t c)
{
    return t->arena ? t->arena + t->keys[c].off : (const uint8_t *)"";
}
/* Code c's category as UTF-8 text (no GIL needed): at most fp_interner_text_max() bytes into
 * out, the same text fp_interner_categories() gives. */
size_t fp_interner_text_max(const fp_interner *t, fp_cat_kind kind, uint32_t code);
size_t fp_interner_text(const fp_interner *t, fp_cat_kind kind, uint32_t code, uint8_t *out);
/* The categories as a list of str, index = code (needs the GIL). */
PyObject *fp_interner_categories(fp_state *st, const fp_interner *t, fp_cat_kind kind);

/* What a packet row shows of its application layers (the packet table's dns_qname, tls_sni and
 * http_host; the summary's sections): the first question's name of a DNS message, a TLS
 * ClientHello's SNI, an HTTP message's Host value (unfolded into `unfolded`); NULL when absent.
 * The pointers are valid while `data` and the struct are. */
typedef struct {
    const void *qname, *sni, *host;
    size_t qlen, slen, hlen;
    int dns_response; /* with qname: the message's QR bit */
    fp_dns_record rec;
    uint8_t unfolded[FP_DNS_NAME_MAX];
} fp_app_keys;
void fp_app_keys_get(fp_app_keys *k, const uint8_t *data, const fp_dissection *d);

#endif
