/* JA3 / JA3S and JA4 / JA4_r from a parsed hello (tls.h).
 *   JA3: https://github.com/salesforce/ja3 -- "SSLVersion,Cipher,SSLExtension,
 *     EllipticCurve,EllipticCurvePointFormat", decimal values joined by '-', GREASE
 *     (RFC 8701) left out; MD5 of the string. JA3S: "SSLVersion,Cipher,SSLExtension".
 *   JA4: FoxIO technical_details/JA4.md (BSD-3-Clause). a = protocol, version (highest
 *     non-GREASE supported_versions value, else legacy_version), SNI d/i, cipher and
 *     extension counts (GREASE out, capped at 99), first/last character of the first ALPN
 *     value (hex digits when either end is not alphanumeric, "00" when none);
 *     b = sha256 of the sorted 4-hex cipher list, first 12 hex; c = sha256 of the sorted
 *     extension list without 0000 and 0010, then '_' and the signature algorithms in wire
 *     order when there are any; an empty string hashes to "000000000000". JA4_r prints
 *     the strings instead of their hashes.
 * The values are read again from the spans the parser recorded, never from the capped
 * arrays, so fingerprints cover every value however many there are. */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "tls.h"

static const char hexdigits[] = "0123456789abcdef";

/* Output of a fingerprint string: copied into a caller buffer (cut at cap-1) and fed to
 * a digest (when md is set), in the same pass. */
typedef struct {
    char *out;
    size_t cap;
    uint64_t len;      /* bytes produced, including those past the buffer */
    EVP_MD_CTX *md;    /* NULL: not hashed */
    uint64_t hashed;   /* bytes fed to md since it was set */
    char stage[512];
    size_t staged;
    int failed;
} fp_sink;

static void sink_flush(fp_sink *s)
{
    if (s->staged > 0 && s->md != NULL && EVP_DigestUpdate(s->md, s->stage, s->staged) != 1)
        s->failed = 1;
    s->staged = 0;
}

static void sink_put(fp_sink *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s->cap > 0 && s->len < s->cap - 1) s->out[s->len] = p[i];
        s->len++;
        if (s->md == NULL) continue;
        if (s->staged == sizeof s->stage) sink_flush(s);
        s->stage[s->staged++] = p[i];
        s->hashed++;
    }
}

static void sink_char(fp_sink *s, char c) { sink_put(s, &c, 1); }

static void sink_dec(fp_sink *s, unsigned v)
{
    char tmp[12];
    int n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    sink_put(s, tmp + sizeof tmp - n, (size_t)n);
}

static void sink_hex4(fp_sink *s, uint16_t v)
{
    char t[4] = {hexdigits[v >> 12], hexdigits[(v >> 8) & 15], hexdigits[(v >> 4) & 15],
                 hexdigits[v & 15]};
    sink_put(s, t, 4);
}

/* The digests, fetched from the default provider once per process: EVP_md5() and
 * EVP_sha256() make every EVP_DigestInit_ex look the algorithm up by name under a lock
 * (OpenSSL 3), ~4,000 instructions, more than hashing a fingerprint. Read-only once set;
 * where a fetch fails (a FIPS provider without MD5), the implicit lookup is used. */
static EVP_MD *fetched_md5, *fetched_sha256;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

/* One digest context per algorithm and thread (workers hash on several threads at once),
 * kept across hellos: a new context per fingerprint paid its allocation, reset and free
 * (~750 instructions; OpenSSL 3.0 re-creates the provider state on every init anyway).
 * Freed when the thread exits. */
typedef struct {
    EVP_MD_CTX *md5, *sha256;
} digest_ctxs;
static pthread_key_t ctx_key;
static int ctx_key_ok;

static void free_ctxs(void *p)
{
    digest_ctxs *d = p;
    EVP_MD_CTX_free(d->md5);
    EVP_MD_CTX_free(d->sha256);
    free(d);
}

static void fetch_digests(void)
{
    fetched_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    fetched_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    ctx_key_ok = pthread_key_create(&ctx_key, free_ctxs) == 0;
}

static const EVP_MD *digest_md5(void)
{
    pthread_once(&fetch_once, fetch_digests);
    return fetched_md5 ? fetched_md5 : EVP_md5();
}

static const EVP_MD *digest_sha256(void)
{
    pthread_once(&fetch_once, fetch_digests);
    return fetched_sha256 ? fetched_sha256 : EVP_sha256();
}

/* This thread's contexts (after digest_md5/digest_sha256 ran the fetch), or NULL when out
 * of memory or without a thread key. */
static digest_ctxs *thread_ctxs(void)
{
    if (!ctx_key_ok) return NULL;
    digest_ctxs *d = pthread_getspecific(ctx_key);
    if (d != NULL) return d;
    d = calloc(1, sizeof *d);
    if (d == NULL) return NULL;
    d->md5 = EVP_MD_CTX_new();
    d->sha256 = EVP_MD_CTX_new();
    if (d->md5 == NULL || d->sha256 == NULL || pthread_setspecific(ctx_key, d) != 0) {
        free_ctxs(d);
        return NULL;
    }
    return d;
}

/* Start hashing with `type` (resets the digest). */
static void sink_hash_begin(fp_sink *s, EVP_MD_CTX *md, const EVP_MD *type)
{
    sink_flush(s);
    s->md = md;
    s->hashed = 0;
    if (EVP_DigestInit_ex(md, type, NULL) != 1) s->failed = 1;
}

/* Stop hashing: `hex` gets the first `nhex` hex digits of the digest, or zeros when
 * `zero_if_empty` and nothing was hashed. */
static void sink_hash_end(fp_sink *s, char *hex, size_t nhex, int zero_if_empty)
{
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    sink_flush(s);
    EVP_MD_CTX *md = s->md;
    s->md = NULL;
    if (EVP_DigestFinal_ex(md, dig, &dlen) != 1 || (size_t)dlen * 2 < nhex) {
        s->failed = 1;
        memset(hex, '0', nhex);
        return;
    }
    for (size_t i = 0; i < nhex; i++) {
        unsigned b = dig[i / 2];
        hex[i] = zero_if_empty && s->hashed == 0 ? '0' : hexdigits[i % 2 ? b & 15 : b >> 4];
    }
}

static void sink_terminate(fp_sink *s)
{
    if (s->cap > 0) s->out[s->len < s->cap - 1 ? s->len : s->cap - 1] = '\0';
}

/* ---- walking the recorded spans --------------------------------------------------- */

static fp_cursor span_cursor(const fp_tls_hello *h, fp_tls_span sp)
{
    fp_cursor c = fp_cursor_make(h->body, h->body_len);
    if (sp.off > h->body_len || sp.len > h->body_len - sp.off) { /* never: parser's spans */
        c.ptr = c.end;
        return c;
    }
    c.ptr = h->body + sp.off;
    c.end = c.ptr + sp.len;
    return c;
}

/* Next extension type of the extensions vector, with the parser's framing rules. */
static int next_ext_type(fp_cursor *eb, uint16_t *type)
{
    uint16_t len;
    fp_cursor save = *eb;
    if (fp_get_be16(eb, type) < 0 || fp_get_be16(eb, &len) < 0 || fp_skip(eb, len) < 0) {
        *eb = save;
        return -1;
    }
    return 0;
}

/* Non-GREASE uint16 values of a list span, '-' joined in decimal. */
static void ja3_u16_list(fp_sink *s, const fp_tls_hello *h, fp_tls_span sp)
{
    fp_cursor c = span_cursor(h, sp);
    uint16_t v;
    int first = 1;
    while (fp_get_be16(&c, &v) == 0) {
        if (fp_tls_is_grease(v)) continue;
        if (!first) sink_char(s, '-');
        sink_dec(s, v);
        first = 0;
    }
}

static void ja3_extensions(fp_sink *s, const fp_tls_hello *h)
{
    fp_cursor eb = span_cursor(h, h->ext_span);
    uint16_t type;
    int first = 1;
    while (next_ext_type(&eb, &type) == 0) {
        if (fp_tls_is_grease(type)) continue;
        if (!first) sink_char(s, '-');
        sink_dec(s, type);
        first = 0;
    }
}

int64_t fp_tls_ja3(const fp_tls_hello *h, char *str, size_t cap, char md5_hex[33])
{
    if (h == NULL || h->body == NULL || md5_hex == NULL || (str == NULL && cap > 0))
        return FP_TLS_ERR_ARGUMENT;
    const EVP_MD *type = digest_md5();
    digest_ctxs *d = thread_ctxs();
    if (d == NULL) return FP_TLS_ERR_NOMEM;
    fp_sink s = {.out = str, .cap = cap};
    sink_hash_begin(&s, d->md5, type);
    sink_dec(&s, h->legacy_version);
    sink_char(&s, ',');
    ja3_u16_list(&s, h, h->cipher_span);
    sink_char(&s, ',');
    ja3_extensions(&s, h);
    if (!h->is_server) {
        sink_char(&s, ',');
        if (h->has_groups) ja3_u16_list(&s, h, h->groups_span);
        sink_char(&s, ',');
        fp_cursor c = span_cursor(h, h->point_formats_span);
        uint8_t pf;
        for (int first = 1; fp_get_u8(&c, &pf) == 0; first = 0) {
            if (!first) sink_char(&s, '-');
            sink_dec(&s, pf);
        }
    }
    sink_hash_end(&s, md5_hex, 32, 0);
    md5_hex[32] = '\0';
    sink_terminate(&s);
    return s.failed ? FP_TLS_ERR_NOMEM : (int64_t)s.len;
}

/* ---- JA4 -------------------------------------------------------------------------- */

/* Newer protocol version ranks higher; DTLS counts down from 0xfeff. */
static uint32_t version_rank(uint16_t v)
{
    return (v & 0xff00u) == 0xfe00u ? 0x100u - (v & 0xffu) : (uint32_t)v << 8;
}

static uint16_t ja4_version(const fp_tls_hello *h)
{
    fp_cursor c = span_cursor(h, h->versions_span);
    uint16_t v, best = 0;
    int found = 0;
    while (h->has_supported_versions && fp_get_be16(&c, &v) == 0) {
        if (fp_tls_is_grease(v)) continue;
        if (!found || version_rank(v) > version_rank(best)) best = v;
        found = 1;
    }
    return found ? best : h->legacy_version;
}

static const char *ja4_version_code(uint16_t v)
{
    switch (v) {
    case 0x0304: return "13";
    case 0x0303: return "12";
    case 0x0302: return "11";
    case 0x0301: return "10";
    case 0x0300: return "s3";
    case 0x0002: return "s2";
    case 0xfeff: return "d1";
    case 0xfefd: return "d2";
    case 0xfefc: return "d3";
    default: return "00";
    }
}

static int is_alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* First and last character of the first ALPN value: the characters themselves when both
 * are alphanumeric, else the first and last hex digit of the value; "00" without one. */
static void ja4_alpn(const fp_tls_hello *h, char out[2])
{
    out[0] = out[1] = '0';
    if (!h->has_alpn || h->alpn_count == 0 || h->alpn[0].len == 0) return;
    fp_cursor c = span_cursor(h, h->alpn[0]);
    if (!fp_cur_has(&c, h->alpn[0].len)) return;
    uint8_t first = fp_peek_u8(&c, 0), last = fp_peek_u8(&c, h->alpn[0].len - 1);
    if (is_alnum(first) && is_alnum(last)) {
        out[0] = (char)first;
        out[1] = (char)last;
    } else {
        out[0] = hexdigits[first >> 4];
        out[1] = hexdigits[last & 15];
    }
}

static int cmp_u16(const void *a, const void *b)
{
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    return (x > y) - (x < y);
}

/* Non-GREASE values, in wire order: ciphers from their span, extension types from the
 * extensions vector. `arr` holds at least span_len/2 (ciphers) or span_len/4 values. */
static uint32_t collect_ciphers(const fp_tls_hello *h, uint16_t *arr)
{
    fp_cursor c = span_cursor(h, h->cipher_span);
    uint32_t n = 0;
    uint16_t v;
    while (fp_get_be16(&c, &v) == 0)
        if (!fp_tls_is_grease(v)) arr[n++] = v;
    return n;
}

static uint32_t collect_exts(const fp_tls_hello *h, uint16_t *arr)
{
    fp_cursor eb = span_cursor(h, h->ext_span);
    uint32_t n = 0;
    uint16_t v;
    while (next_ext_type(&eb, &v) == 0)
        if (!fp_tls_is_grease(v)) arr[n++] = v;
    return n;
}

static void put_count(char *p, uint32_t n)
{
    if (n > 99) n = 99;
    p[0] = (char)('0' + n / 10);
    p[1] = (char)('0' + n % 10);
}

int64_t fp_tls_ja4(const fp_tls_hello *h, char proto, char ja4[FP_JA4_SIZE], char *raw,
                   size_t raw_cap)
{
    if (h == NULL || h->body == NULL || h->is_server || ja4 == NULL || (raw == NULL && raw_cap > 0) ||
        (proto != 't' && proto != 'q' && proto != 'd'))
        return FP_TLS_ERR_ARGUMENT;
    size_t nc = h->cipher_span.len / 2 + 1, ne = h->ext_span.len / 4 + 1;
    const EVP_MD *type = digest_sha256();
    digest_ctxs *d = thread_ctxs();
    uint16_t *ciphers = d != NULL ? malloc((nc + ne) * sizeof *ciphers) : NULL;
    if (ciphers == NULL) return FP_TLS_ERR_NOMEM;
    uint16_t *exts = ciphers + nc;
    uint32_t n_ciphers = collect_ciphers(h, ciphers);
    uint32_t n_exts = collect_exts(h, exts);

    /* a: "t13d1516h2" */
    char a[10];
    a[0] = proto;
    memcpy(a + 1, ja4_version_code(ja4_version(h)), 2);
    a[3] = h->has_sni ? 'd' : 'i';
    put_count(a + 4, n_ciphers);
    put_count(a + 6, n_exts);
    ja4_alpn(h, a + 8);

    fp_sink s = {.out = raw, .cap = raw ? raw_cap : 0};
    sink_put(&s, a, sizeof a);
    memcpy(ja4, a, sizeof a);
    ja4[10] = '_';

    /* b: sorted ciphers */
    sink_char(&s, '_');
    qsort(ciphers, n_ciphers, sizeof *ciphers, cmp_u16);
    sink_hash_begin(&s, d->sha256, type);
    for (uint32_t i = 0; i < n_ciphers; i++) {
        if (i) sink_char(&s, ',');
        sink_hex4(&s, ciphers[i]);
    }
    sink_hash_end(&s, ja4 + 11, 12, 1);
    ja4[23] = '_';

    /* c: sorted extensions without SNI and ALPN, then signature algorithms in order */
    sink_char(&s, '_');
    qsort(exts, n_exts, sizeof *exts, cmp_u16);
    sink_hash_begin(&s, d->sha256, type);
    int first = 1;
    for (uint32_t i = 0; i < n_exts; i++) {
        if (exts[i] == 0x0000 || exts[i] == 0x0010) continue;
        if (!first) sink_char(&s, ',');
        sink_hex4(&s, exts[i]);
        first = 0;
    }
    fp_cursor sig = span_cursor(h, h->sigalgs_span);
    uint16_t v;
    first = 1;
    while (h->has_sigalgs && fp_get_be16(&sig, &v) == 0) {
        if (fp_tls_is_grease(v)) continue;
        sink_char(&s, first ? '_' : ',');
        sink_hex4(&s, v);
        first = 0;
    }
    sink_hash_end(&s, ja4 + 24, 12, 1);
    ja4[36] = '\0';
    sink_terminate(&s);

    free(ciphers);
    return s.failed ? FP_TLS_ERR_NOMEM : (int64_t)s.len;
}

/* The _new forms write into a stack buffer first: almost every string fits, so the
 * fingerprint (and its digests) is computed once; a longer one is measured, then written. */
enum { FP_STR_STACK = 1024 };

static char *dup_string(const char *buf, int64_t n)
{
    char *s = malloc((size_t)n + 1);
    if (s) memcpy(s, buf, (size_t)n + 1);
    return s;
}

char *fp_tls_ja3_new(const fp_tls_hello *h, char md5_hex[33])
{
    char buf[FP_STR_STACK];
    int64_t n = fp_tls_ja3(h, buf, sizeof buf, md5_hex); /* the hash covers the whole string */
    if (n < 0) return NULL;
    if (n < (int64_t)sizeof buf) return dup_string(buf, n);
    char *s = malloc((size_t)n + 1);
    if (s && fp_tls_ja3(h, s, (size_t)n + 1, md5_hex) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

char *fp_tls_ja4_new(const fp_tls_hello *h, char proto, char ja4[FP_JA4_SIZE])
{
    char buf[FP_STR_STACK];
    int64_t n = fp_tls_ja4(h, proto, ja4, buf, sizeof buf);
    if (n < 0) return NULL;
    if (n < (int64_t)sizeof buf) return dup_string(buf, n);
    char *s = malloc((size_t)n + 1);
    if (s && fp_tls_ja4(h, proto, ja4, s, (size_t)n + 1) < 0) {
        free(s);
        return NULL;
    }
    return s;
}
