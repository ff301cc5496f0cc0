/* Column building shared by every table fastpkt hands to pandas/Arrow: interners that
 * turn repeated values (addresses, names, bit sets) into categorical codes. Keys are
 * interned in C with the GIL released; Python strings are made once per distinct key. */
#include "columns.h"

#include "../dissect/tls.h"

static int interner_grow(fp_interner *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 256;
    uint32_t *slots = PyMem_RawCalloc(cap, sizeof *slots);
    /* codes stay below cap / 2: room for them all */
    fp_intern_key *keys = PyMem_RawRealloc(t->keys, (size_t)cap / 2 * sizeof *keys);
    if (keys) t->keys = keys;
    if (!slots || !keys) {
        PyMem_RawFree(slots);
        return -1;
    }
    for (uint32_t c = 0; c < t->count; c++) {
        uint32_t i = t->keys[c].hash & (cap - 1);
        while (slots[i]) i = (i + 1) & (cap - 1);
        slots[i] = c + 1;
    }
    PyMem_RawFree(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* Empty keys compare without touching the arena, which may not exist yet. */
static int same_key(const fp_interner *t, uint32_t c, const uint8_t *key, size_t n)
{
    return t->keys[c].len == n && (n == 0 || memcmp(fp_interner_key(t, c), key, n) == 0);
}

int32_t fp_intern_bytes(fp_interner *t, const uint8_t *key, size_t n)
{
    if (t->oom) return -1;
    if (n > UINT32_MAX - t->arena_len) { /* arena offsets are 32-bit */
        t->oom = 1;
        return -1;
    }
    if (t->count && same_key(t, (uint32_t)t->last_code, key, n)) return t->last_code;
    if ((t->count + 1) * 2 > t->cap && interner_grow(t) < 0) {
        t->oom = 1;
        return -1;
    }
    uint32_t h = fp_hash_bytes(key, n);
    uint32_t i = h & (t->cap - 1);
    for (; t->slots[i]; i = (i + 1) & (t->cap - 1)) {
        uint32_t c = t->slots[i] - 1;
        if (t->keys[c].hash == h && same_key(t, c, key, n))
            return t->last_code = (int32_t)c;
    }
    if (t->arena_len + n > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap * 2 : 4096;
        while (cap < t->arena_len + n) cap *= 2;
        uint8_t *a = PyMem_RawRealloc(t->arena, cap);
        if (a == NULL) {
            t->oom = 1;
            return -1;
        }
        t->arena = a;
        t->arena_cap = cap;
    }
    uint32_t c = t->count++;
    if (n) /* an empty key may come before any arena exists */
        memcpy(t->arena + t->arena_len, key, n);
    t->keys[c] = (fp_intern_key){0, 0, h, (uint32_t)t->arena_len, (uint32_t)n};
    t->arena_len += n;
    t->slots[i] = c + 1;
    return t->last_code = (int32_t)c;
}

/* Keys of at most 16 bytes, as two words plus their length: no memcmp, no byte loop. */
int32_t fp_intern_fixed_lookup(fp_interner *t, uint64_t k0, uint64_t k1, uint16_t n)
{
    if (t->oom) return -1;
    uint32_t c;
    if ((t->count + 1) * 2 > t->cap && interner_grow(t) < 0) {
        t->oom = 1;
        return -1;
    }
    uint64_t h64 = (k0 * 0x9E3779B97F4A7C15ull) ^ ((k1 + n) * 0xC2B2AE3D27D4EB4Full);
    uint32_t h = (uint32_t)(h64 >> 32);
    uint32_t i = h & (t->cap - 1);
    for (; t->slots[i]; i = (i + 1) & (t->cap - 1)) {
        c = t->slots[i] - 1;
        const fp_intern_key *k = &t->keys[c];
        if (k->hash == h && k->k0 == k0 && k->k1 == k1 && k->len == n)
            return t->last_code = (int32_t)c;
    }
    c = t->count++;
    t->keys[c] = (fp_intern_key){k0, k1, h, 0, n};
    t->slots[i] = c + 1;
    return t->last_code = (int32_t)c;
}

void fp_interner_free(fp_interner *t)
{
    PyMem_RawFree(t->keys);
    PyMem_RawFree(t->slots);
    PyMem_RawFree(t->arena);
}

static PyObject *category_str(fp_state *st, fp_cat_kind kind, const fp_interner *t, uint32_t code)
{
    uint8_t key[16];
    memcpy(key, &t->keys[code].k0, 8);
    memcpy(key + 8, &t->keys[code].k1, 8);
    switch (kind) {
    case FP_CAT_IP:
        return t->keys[code].len == 4 ? fp_ip4_str(key) : fp_ip6_str(key);
    case FP_CAT_MAC:
        return fp_mac_str(key);
    case FP_CAT_TEXT:
        return PyUnicode_DecodeUTF8((const char *)fp_interner_key(t, code), t->keys[code].len, "replace");
    case FP_CAT_ANOMALY: {
        uint64_t bits = t->keys[code].k0;
        PyObject *parts = PyList_New(0);
        if (parts == NULL) return NULL;
        for (int b = 0; b < FP_ANOM_COUNT_BITS; b++)
            if (((bits >> b) & 1) && PyList_Append(parts, st->anomaly_names[b]) < 0) {
                Py_DECREF(parts);
                return NULL;
            }
        return fp_join_str(parts, ",");
    }
    }
    return NULL;
}

PyObject *fp_interner_categories(fp_state *st, const fp_interner *t, fp_cat_kind kind)
{
    PyObject *cats = PyList_New(t->count);
    if (cats == NULL) return NULL;
    for (uint32_t j = 0; j < t->count; j++) {
        PyObject *s = category_str(st, kind, t, j);
        if (s == NULL) {
            Py_DECREF(cats);
            return NULL;
        }
        PyList_SET_ITEM(cats, j, s);
    }
    return cats;
}

/* UTF-8 with each maximal invalid subpart as U+FFFD, as Python's 'replace' decodes it (so the
 * Arrow and pandas views of a name agree); out holds at least 3 * n bytes. */
static size_t utf8_replace(const uint8_t *p, size_t n, uint8_t *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t b = p[i];
        if (b < 0x80) {
            out[o++] = b;
            i++;
            continue;
        }
        size_t need = 0;
        uint8_t lo = 0x80, hi = 0xBF; /* the second byte's range (RFC 3629 section 4) */
        if (b >= 0xC2 && b <= 0xDF) need = 1;
        else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            if (b == 0xE0) lo = 0xA0;
            if (b == 0xED) hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            if (b == 0xF0) lo = 0x90;
            if (b == 0xF4) hi = 0x8F;
        }
        size_t k = 1;
        for (; need && k <= need && i + k < n; k++) {
            uint8_t c = p[i + k];
            if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) break;
        }
        if (need && k > need) {
            memcpy(out + o, p + i, need + 1);
            o += need + 1;
            i += need + 1;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += k;
        }
    }
    return o;
}

size_t fp_interner_text_max(const fp_interner *t, fp_cat_kind kind, uint32_t code)
{
    switch (kind) {
    case FP_CAT_IP: return FP_IP6_TEXT_MAX;
    case FP_CAT_MAC: return 17;
    case FP_CAT_TEXT: return 3 * (size_t)t->keys[code].len;
    case FP_CAT_ANOMALY: {
        size_t n = 0;
        for (int b = 0; b < FP_ANOM_COUNT_BITS; b++)
            if ((t->keys[code].k0 >> b) & 1) n += strlen(fp_anomaly_names[b]) + 1;
        return n;
    }
    }
    return 0;
}

size_t fp_interner_text(const fp_interner *t, fp_cat_kind kind, uint32_t code, uint8_t *out)
{
    uint8_t key[16];
    memcpy(key, &t->keys[code].k0, 8);
    memcpy(key + 8, &t->keys[code].k1, 8);
    switch (kind) {
    case FP_CAT_IP:
        return t->keys[code].len == 4 ? fp_ip4_text(key, (char *)out) : fp_ip6_text(key, (char *)out);
    case FP_CAT_MAC:
        for (int i = 0; i < 6; i++) {
            out[3 * i] = (uint8_t)"0123456789abcdef"[key[i] >> 4];
            out[3 * i + 1] = (uint8_t)"0123456789abcdef"[key[i] & 15];
            if (i < 5) out[3 * i + 2] = ':';
        }
        return 17;
    case FP_CAT_TEXT:
        return utf8_replace(fp_interner_key(t, code), t->keys[code].len, out);
    case FP_CAT_ANOMALY: {
        size_t n = 0;
        for (int b = 0; b < FP_ANOM_COUNT_BITS; b++)
            if ((t->keys[code].k0 >> b) & 1) {
                size_t len = strlen(fp_anomaly_names[b]);
                if (n) out[n++] = ',';
                memcpy(out + n, fp_anomaly_names[b], len);
                n += len;
            }
        return n;
    }
    }
    return 0;
}

void fp_app_keys_get(fp_app_keys *k, const uint8_t *data, const fp_dissection *d)
{
    k->qname = k->sni = k->host = NULL;
    k->qlen = k->slen = k->hlen = 0;
    k->dns_response = 0;
    if (FP_HAS(d, FP_L_DNS)) {
        const uint8_t *msg;
        uint32_t len;
        fp_dns_iter it;
        if (fp_dns_message(data, d, &msg, &len) == 0 && fp_dns_iter_init(&it, msg, len) == 0 &&
            fp_dns_iter_next(&it, &k->rec) == 1 && k->rec.section == FP_DNS_QD) {
            k->dns_response = it.hdr.flags >> 15; /* the QR bit */
            k->qname = k->rec.name;
            k->qlen = strlen(k->rec.name);
        }
    }
    if (FP_HAS(d, FP_L_TLS)) {
        fp_tls_info ti;
        if (fp_tls_parse(data, d, &ti) == 0 && ti.sni.len) {
            k->sni = data + ti.sni.off;
            k->slen = ti.sni.len;
        }
    }
    if (FP_HAS(d, FP_L_HTTP)) {
        fp_http_message m;
        long h = fp_http_parse(data, d, &m) == 0 ? fp_http_find_field(data, m.headers, m.header_count, "host") : -1;
        if (h >= 0) k->host = fp_http_value(data, &m.headers[h], k->unfolded, sizeof k->unfolded, &k->hlen);
    }
}
