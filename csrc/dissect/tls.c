/* TLS (RFC 8446, RFC 5246): records, handshake messages and hellos, for every consumer.
 *   Records: RFC 8446 section 5.1 (RFC 5246 section 6.2.1), one check of a record header
 *     (fp_tls_record_plausible, tls.h) for the per-packet view, the assembler and the
 *     hello engine's STARTTLS restart.
 *   Handshake assembler: record bodies (or QUIC CRYPTO bytes) into handshake messages.
 *   Hello parsing: ClientHello/ServerHello in full (RFC sections in tls.h); the streaming
 *     ClientHello reads hellos of any length into a compact form the same parser reads.
 *   One segment (pkt.tls, the one-segment SNI of flows): the handshake bytes of the
 *     segment's consecutive handshake records read as one stream, the ClientHello handed
 *     to the same parser, in place when it lies in one record (browsers send one), else
 *     gathered on the heap. A hello still unfinished after TLS_MAX_FRAGS records is flagged
 *     `capped`; one cut by the segment end is parsed as far as it goes and still yields its
 *     SNI when the extension is in the segment (tshark only shows it after TCP
 *     reassembly). The SNI slice must lie in one record.
 *   Fields: Wireshark's tls.* names, at the end.
 * Every read of wire bytes goes through the cursor helpers; every vector length is checked
 * against its container before the vector is entered. JA3/JA4 are in tls_fingerprint.c. */
#include "tls.h"

#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "fields.h"

#define FP_TLS_ASM_NAME(name, str) str,
const char *const fp_tls_asm_flag_names[FP_TLS_ASM_FLAG_COUNT] = {FP_TLS_ASM_FLAGS(FP_TLS_ASM_NAME)};
#undef FP_TLS_ASM_NAME

#define FP_TLS_HELLO_NAME(name, str) str,
const char *const fp_tls_hello_anomaly_names[FP_TLS_HELLO_ANOM_COUNT] = {
    FP_TLS_HELLO_ANOMALIES(FP_TLS_HELLO_NAME)};
#undef FP_TLS_HELLO_NAME

const char *fp_tls_error_name(int code)
{
    switch (code) {
    case FP_TLS_OK: return "ok";
    case FP_TLS_ERR_TRUNCATED: return "truncated";
    case FP_TLS_ERR_LENGTH: return "bad_length";
    case FP_TLS_ERR_EXTENSION: return "bad_extension";
    case FP_TLS_ERR_TRAILING: return "trailing_bytes";
    case FP_TLS_ERR_ARGUMENT: return "bad_argument";
    case FP_TLS_ERR_NOMEM: return "no_memory";
    default: return "unknown";
    }
}

/* ==== Handshake assembler ========================================================== */

enum { CT_CCS = 20, CT_ALERT = 21, CT_HANDSHAKE = 22, CT_APPDATA = 23, CT_HEARTBEAT = 24 };

void fp_tls_asm_init(fp_tls_asm *a, int quic)
{
    memset(a, 0, sizeof *a);
    a->max_message = FP_TLS_MAX_MESSAGE;
    a->quic = quic ? 1 : 0;
}

void fp_tls_asm_free(fp_tls_asm *a)
{
    free(a->buf);
    a->buf = NULL;
    a->buf_cap = 0;
    if (a->ch) fp_tls_ch_stream_free(a->ch);
    free(a->ch);
    a->ch = NULL;
}

size_t fp_tls_asm_memory(const fp_tls_asm *a)
{
    return a->buf_cap + (a->ch ? fp_tls_ch_stream_memory(a->ch) : 0);
}

void fp_tls_asm_gap(fp_tls_asm *a)
{
    if (!(a->flags & FP_TLS_ASM(DONE))) a->flags |= FP_TLS_ASM(GAP) | FP_TLS_ASM(DONE);
}

static void asm_stop(fp_tls_asm *a, uint32_t why) { a->flags |= why | FP_TLS_ASM(DONE); }

static void asm_deliver(fp_tls_asm *a, uint8_t type, const uint8_t *body, uint32_t len,
                        fp_tls_hs_cb cb, void *ctx)
{
    static const uint8_t empty[1] = {0};
    fp_tls_hs_msg m = {.type = type, .after_ccs = a->after_ccs, .len = len, .body = len ? body : empty,
                       .index = a->messages++, .wire_len = len};
    if (cb != NULL && cb(ctx, &m) != 0) asm_stop(a, FP_TLS_ASM(STOPPED));
}

static int ch_cut(fp_tls_ch_stream *s);
static int ch_past_session_id(const fp_tls_ch_stream *s);

/* The streamed ClientHello's compact form goes out (its fields ended, or the input did). */
static void asm_deliver_compact(fp_tls_asm *a, int partial, fp_tls_hs_cb cb, void *ctx)
{
    static const uint8_t empty[1] = {0};
    fp_tls_ch_stream *s = a->ch;
    fp_tls_hs_msg m = {.type = 1, .after_ccs = a->after_ccs, .compact = 1, .partial = (uint8_t)partial,
                       .len = s->out_len, .body = s->out_len ? s->out : empty, .index = a->messages++,
                       .wire_len = s->wire_len, .anomalies = s->anomalies};
    if (partial) m.anomalies |= FP_TLS_HELLO_A(TRUNCATED);
    a->ch_delivered = 1;
    if (cb != NULL && cb(ctx, &m) != 0) asm_stop(a, FP_TLS_ASM(STOPPED));
}

/* Body bytes of a streamed ClientHello. */
static void asm_stream_bytes(fp_tls_asm *a, const uint8_t *p, uint32_t n, fp_tls_hs_cb cb, void *ctx)
{
    if (a->ch_delivered) return; /* past its fields: skipped unread */
    int r = fp_tls_ch_stream_feed(a->ch, p, n);
    if (r < 0) asm_stop(a, FP_TLS_ASM(NOMEM));
    else if (r > 0) asm_deliver_compact(a, 0, cb, ctx);
}

/* A ClientHello header with hello_fields set: start its streaming parser. */
static int asm_stream_start(fp_tls_asm *a)
{
    if (a->ch == NULL && (a->ch = calloc(1, sizeof *a->ch)) == NULL) return -1;
    fp_tls_ch_stream_free(a->ch);
    fp_tls_ch_stream_init(a->ch, a->msg_len, a->hello_fields);
    a->ch_delivered = 0;
    return 0;
}

int fp_tls_asm_finish(fp_tls_asm *a, fp_tls_hs_cb cb, void *ctx)
{
    if (a->ch == NULL || a->ch_delivered || a->msg_hdr_have < 4 || a->msg_hdr[0] != 1 || a->msg_have == 0)
        return 0;
    if (!ch_past_session_id(a->ch)) return -1; /* nothing to show before the cipher suites */
    if (!a->ch->done && ch_cut(a->ch) < 0) return 0;
    uint32_t flags = a->flags;
    asm_deliver_compact(a, 1, cb, ctx);
    a->flags = flags; /* a stop asked now changes nothing: the input is over */
    return 1;
}

/* Room for a message body of `need` bytes (need <= max_message, checked by the caller). */
static int asm_reserve(fp_tls_asm *a, uint32_t need)
{
    if (need <= a->buf_cap) return 0;
    uint32_t cap = a->buf_cap ? a->buf_cap : 1024;
    while (cap < need) cap = cap > UINT32_MAX / 2 ? need : cap * 2;
    if (cap > a->max_message) cap = need;
    uint8_t *p = realloc(a->buf, cap);
    if (p == NULL) return -1;
    a->buf = p;
    a->buf_cap = cap;
    return 0;
}

static uint32_t load_be24(const uint8_t *p)
{
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

/* AUTO policy after a CCS: does a record-initial message header start a plaintext hello
 * (type 1 or 2, at least a minimal ServerHello body, filling the record)? */
static int asm_probe_ok(const fp_tls_asm *a, uint8_t type, uint32_t len)
{
    if ((type != 1 && type != 2) || len < 38) return 0;
    return len + 4 == a->rec_len || (a->rec_len >= 16384 && len + 4 > a->rec_len);
}

/* Handshake bytes (record bodies, or the CRYPTO stream): split into messages. Returns
 * the bytes used (all of them unless the assembler stopped). */
static size_t asm_handshake_bytes(fp_tls_asm *a, const uint8_t *p, size_t n, fp_tls_hs_cb cb,
                                  void *ctx)
{
    size_t total = n;
    while (n > 0 && !(a->flags & FP_TLS_ASM(DONE))) {
        if (a->msg_hdr_have == 0 && n >= 4) {
            uint32_t len = load_be24(p + 1); /* n >= 4: the header is here */
            if (a->ccs_probe && !asm_probe_ok(a, p[0], len)) {
                asm_stop(a, FP_TLS_ASM(CCS));
                return total - n + 4; /* the header was read */
            }
            a->ccs_probe = 0;
            int stream = p[0] == 1 && a->hello_fields;
            if (len > a->max_message && !stream) {
                asm_stop(a, FP_TLS_ASM(TOO_BIG));
                return total - n + 4;
            }
            if (n - 4 >= len && !stream) { /* whole message in this piece: no copy */
                asm_deliver(a, p[0], p + 4, len, cb, ctx);
                p += 4 + (size_t)len;
                n -= 4 + (size_t)len;
                continue;
            }
        }
        if (a->msg_hdr_have < 4) {
            a->msg_hdr[a->msg_hdr_have++] = *p++;
            n--;
            if (a->msg_hdr_have < 4) continue;
            a->msg_len = load_be24(a->msg_hdr + 1);
            a->msg_have = 0;
            if (a->ccs_probe && !asm_probe_ok(a, a->msg_hdr[0], a->msg_len)) {
                asm_stop(a, FP_TLS_ASM(CCS));
                break;
            }
            a->ccs_probe = 0;
            if (a->msg_hdr[0] == 1 && a->hello_fields) {
                if (asm_stream_start(a) < 0) {
                    asm_stop(a, FP_TLS_ASM(NOMEM));
                    break;
                }
            } else if (a->msg_len > a->max_message) {
                asm_stop(a, FP_TLS_ASM(TOO_BIG));
                break;
            } else if (asm_reserve(a, a->msg_len) < 0) {
                asm_stop(a, FP_TLS_ASM(NOMEM));
                break;
            }
        } else {
            size_t take = a->msg_len - a->msg_have;
            if (take > n) take = n;
            if (a->msg_hdr[0] == 1 && a->hello_fields) asm_stream_bytes(a, p, (uint32_t)take, cb, ctx);
            else memcpy(a->buf + a->msg_have, p, take);
            a->msg_have += (uint32_t)take;
            p += take;
            n -= take;
        }
        if (a->msg_have == a->msg_len) {
            a->msg_hdr_have = 0;
            a->msg_have = 0;
            if (a->msg_hdr[0] != 1 || !a->hello_fields) asm_deliver(a, a->msg_hdr[0], a->buf, a->msg_len, cb, ctx);
            else if (!a->ch_delivered) asm_stream_bytes(a, NULL, 0, cb, ctx);
        }
    }
    return total - n;
}

/* A complete record header: 0 to go on, or the stop reason. */
static uint32_t asm_record_header(fp_tls_asm *a)
{
    const uint8_t *h = a->rec_hdr;
    uint32_t len = fp_load_be16(h + 3);
    int first = a->records == 0;
    if (!fp_tls_record_plausible(h, 5, first)) return first ? FP_TLS_ASM(NOT_TLS) : FP_TLS_ASM(BAD_RECORD);
    if (first) a->first_record_version = fp_load_be16(h + 1);
    a->records++;
    a->rec_type = h[0];
    a->rec_left = len;
    a->rec_len = len;
    if (h[0] == CT_HANDSHAKE) {
        if (len == 0) a->flags |= FP_TLS_ASM(EMPTY_RECORD);
        return 0;
    }
    if (fp_tls_asm_pending(a) > 0) return FP_TLS_ASM(INTERLEAVED);
    if (a->ccs_probe) return FP_TLS_ASM(CCS); /* AUTO: no handshake record came next */
    switch (h[0]) {
    case CT_CCS:
        a->flags |= FP_TLS_ASM(CCS);
        if (a->ccs_policy == FP_TLS_CCS_STOP) return FP_TLS_ASM(CCS);
        a->ccs_probe = a->ccs_policy == FP_TLS_CCS_AUTO && !a->after_ccs;
        if (a->after_ccs && a->ccs_policy == FP_TLS_CCS_AUTO) return FP_TLS_ASM(CCS);
        a->after_ccs = 1;
        return 0;
    case CT_ALERT: return FP_TLS_ASM(ALERT);
    case CT_APPDATA: return FP_TLS_ASM(APPDATA);
    default: return 0; /* heartbeat: skipped */
    }
}

int fp_tls_asm_feed(fp_tls_asm *a, const uint8_t *data, size_t len, fp_tls_hs_cb cb, void *ctx)
{
    if (a->flags & FP_TLS_ASM(DONE)) return 1;
    if (a->quic) {
        a->consumed += asm_handshake_bytes(a, data, len, cb, ctx);
        return (a->flags & FP_TLS_ASM(DONE)) != 0;
    }
    while (len > 0 && !(a->flags & FP_TLS_ASM(DONE))) {
        if (a->rec_left == 0 && a->rec_hdr_have < 5) {
            size_t take = 5u - a->rec_hdr_have;
            if (take > len) take = len;
            memcpy(a->rec_hdr + a->rec_hdr_have, data, take);
            a->rec_hdr_have = (uint8_t)(a->rec_hdr_have + take);
            data += take;
            len -= take;
            a->consumed += take;
            if (a->rec_hdr_have < 5) break;
            a->rec_hdr_have = 0;
            uint32_t stop = asm_record_header(a);
            if (stop) asm_stop(a, stop);
            continue;
        }
        size_t n = a->rec_left < len ? a->rec_left : len;
        a->rec_left -= (uint32_t)n;
        a->consumed += a->rec_type == CT_HANDSHAKE ? asm_handshake_bytes(a, data, n, cb, ctx) : n;
        data += n;
        len -= n;
    }
    return (a->flags & FP_TLS_ASM(DONE)) != 0;
}

/* ==== Hello parsing ================================================================ */

/* HelloRetryRequest's fixed random: SHA-256("HelloRetryRequest"), RFC 8446 4.1.3. */
static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

enum {
    EXT_SERVER_NAME = 0x0000,
    EXT_SUPPORTED_GROUPS = 0x000a,
    EXT_EC_POINT_FORMATS = 0x000b,
    EXT_SIGNATURE_ALGORITHMS = 0x000d,
    EXT_ALPN = 0x0010,
    EXT_PRE_SHARED_KEY = 0x0029,
    EXT_EARLY_DATA = 0x002a,
    EXT_SUPPORTED_VERSIONS = 0x002b,
    EXT_PSK_KEY_EXCHANGE_MODES = 0x002d,
    EXT_KEY_SHARE = 0x0033,
    EXT_QUIC_TRANSPORT_PARAMETERS = 0x0039,
    EXT_QUIC_TRANSPORT_PARAMETERS_DRAFT = 0xffa5,
    EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d,
};

/* Record a problem: anomaly bit plus the first error code. */
static void note(fp_tls_hello *h, uint32_t anomaly, int error)
{
    h->anomalies |= anomaly;
    if (h->error == FP_TLS_OK) h->error = error;
}

static fp_tls_span span_at(const fp_cursor *c, size_t len)
{
    fp_tls_span s = {fp_cur_off(c), (uint32_t)len};
    return s;
}

/* A vector with a `width`-byte length prefix: `inner` covers its body and `c` moves past.
 * Returns 0, or -1 when the prefix or body overruns c (nothing consumed then). */
static int get_vector(fp_cursor *c, int width, fp_cursor *inner)
{
    if (!fp_cur_has(c, (size_t)width)) return -1;
    size_t n = width == 1 ? fp_peek_u8(c, 0) : fp_peek_be16(c, 0);
    if (fp_cur_left(c) - (size_t)width < n) return -1;
    inner->base = c->base;
    inner->ptr = c->ptr + width;
    inner->end = inner->ptr + n;
    c->ptr = inner->end;
    return 0;
}

/* A list of uint16 (vector body `v`) into arr[cap]; returns the count of all values. */
static uint32_t get_u16_list(fp_tls_hello *h, fp_cursor v, uint16_t *arr, uint32_t cap,
                             uint32_t cap_bit, uint32_t grease_bit, int odd_error)
{
    uint32_t n = 0;
    uint16_t x;
    while (fp_get_be16(&v, &x) == 0) {
        if (n < cap) arr[n] = x;
        else h->capped |= cap_bit;
        if (fp_tls_is_grease(x)) h->grease |= grease_bit;
        n++;
    }
    if (fp_cur_left(&v) != 0) note(h, FP_TLS_HELLO_A(ODD_LENGTH), odd_error);
    return n;
}

static uint32_t get_u8_list(fp_tls_hello *h, fp_cursor v, uint8_t *arr, uint32_t cap,
                            uint32_t cap_bit)
{
    uint32_t n = 0;
    uint8_t x;
    while (fp_get_u8(&v, &x) == 0) {
        if (n < cap) arr[n] = x;
        else h->capped |= cap_bit;
        n++;
    }
    return n;
}

static void ext_malformed(fp_tls_hello *h) { note(h, FP_TLS_HELLO_A(EXT_MALFORMED), FP_TLS_ERR_EXTENSION); }

/* An inner length or field runs past the end of its extension. */
static void ext_overrun(fp_tls_hello *h)
{
    h->ext_overrun = 1;
    ext_malformed(h);
}

/* The extension content `e` must have been used up exactly. */
static void ext_end(fp_tls_hello *h, const fp_cursor *e)
{
    if (fp_cur_left(e) != 0) ext_malformed(h);
}

/* The extension's list: a vector with a `width`-byte length at the start of `e`.
 * Returns 0, or -1 with the overrun flagged. */
static int ext_list(fp_tls_hello *h, fp_cursor *e, int width, fp_cursor *list)
{
    if (get_vector(e, width, list) == 0) return 0;
    ext_overrun(h);
    return -1;
}

/* server_name (RFC 6066 section 3): every entry is NameType + opaque<1..2^16-1>. */
static void ext_server_name(fp_tls_hello *h, fp_cursor e)
{
    h->has_sni = 1;
    if (h->is_server) { /* the server's acknowledgment is empty */
        ext_end(h, &e);
        return;
    }
    fp_cursor list, name;
    if (ext_list(h, &e, 2, &list) < 0) return;
    while (fp_cur_left(&list) > 0) {
        uint8_t type;
        if (fp_get_u8(&list, &type) < 0 || get_vector(&list, 2, &name) < 0) {
            ext_overrun(h);
            return;
        }
        if (type != 0) continue;
        if (fp_cur_left(&name) == 0) ext_malformed(h);
        if (h->sni_count < FP_TLS_MAX_SNI) h->sni[h->sni_count++] = span_at(&name, fp_cur_left(&name));
        else h->capped |= FP_TLS_CAP_SNI;
    }
    ext_end(h, &e);
}

/* ALPN (RFC 7301 3.1): ProtocolName protocol_name_list<2..2^16-1>, names opaque<1..2^8-1>. */
static void ext_alpn(fp_tls_hello *h, fp_cursor e)
{
    fp_cursor list, name;
    h->has_alpn = 1;
    if (ext_list(h, &e, 2, &list) < 0) return;
    while (fp_cur_left(&list) > 0) {
        if (get_vector(&list, 1, &name) < 0) {
            ext_overrun(h);
            return;
        }
        size_t n = fp_cur_left(&name);
        if (n == 0) ext_malformed(h);
        if (n == 2 && fp_tls_is_grease(fp_peek_be16(&name, 0)))
            h->grease |= FP_TLS_GREASE_ALPN;
        if (h->alpn_count < FP_TLS_MAX_ALPN) h->alpn[h->alpn_count++] = span_at(&name, n);
        else h->capped |= FP_TLS_CAP_ALPN;
    }
    if (h->is_server && h->alpn_count != 1) ext_malformed(h); /* exactly one selected */
    ext_end(h, &e);
}

static void ext_supported_versions(fp_tls_hello *h, fp_cursor e)
{
    fp_cursor list;
    h->has_supported_versions = 1;
    if (h->is_server) { /* selected_version */
        uint16_t v;
        if (fp_get_be16(&e, &v) < 0) {
            ext_overrun(h);
            return;
        }
        h->versions_span = (fp_tls_span){fp_cur_off(&e) - 2, 2};
        h->versions[0] = v;
        h->version_count = 1;
        h->selected_version = v;
        if (fp_tls_is_grease(v)) h->grease |= FP_TLS_GREASE_VERSION;
        ext_end(h, &e);
        return;
    }
    if (ext_list(h, &e, 1, &list) < 0) return;
    h->versions_span = span_at(&list, fp_cur_left(&list));
    h->version_count = get_u16_list(h, list, h->versions, FP_TLS_MAX_VERSIONS,
                                    FP_TLS_CAP_VERSIONS, FP_TLS_GREASE_VERSION, FP_TLS_ERR_EXTENSION);
    ext_end(h, &e);
}

/* supported_groups / signature_algorithms: a uint16 list behind a 2-byte length. */
static void ext_u16_vector(fp_tls_hello *h, fp_cursor e, fp_tls_span *sp, uint16_t *arr,
                           uint32_t cap, uint32_t *count, uint32_t cap_bit, uint32_t grease_bit)
{
    fp_cursor list;
    if (ext_list(h, &e, 2, &list) < 0) return;
    *sp = span_at(&list, fp_cur_left(&list));
    *count = get_u16_list(h, list, arr, cap, cap_bit, grease_bit, FP_TLS_ERR_EXTENSION);
    ext_end(h, &e);
}

static void key_share_group(fp_tls_hello *h, uint16_t group)
{
    if (h->key_share_count < FP_TLS_MAX_KEY_SHARES) h->key_share_groups[h->key_share_count] = group;
    else h->capped |= FP_TLS_CAP_KEY_SHARES;
    h->key_share_count++;
    if (fp_tls_is_grease(group)) h->grease |= FP_TLS_GREASE_KEY_SHARE;
}

/* key_share (RFC 8446 4.2.8): ClientHello KeyShareEntry client_shares<0..2^16-1>;
 * ServerHello one KeyShareEntry; HelloRetryRequest the selected_group alone. */
static void ext_key_share(fp_tls_hello *h, fp_cursor e)
{
    fp_cursor list, key;
    uint16_t group;
    h->has_key_share = 1;
    if (h->is_server) {
        if (fp_get_be16(&e, &group) < 0 || (!h->is_hrr && get_vector(&e, 2, &key) < 0)) {
            ext_overrun(h);
            return;
        }
        key_share_group(h, group);
        ext_end(h, &e);
        return;
    }
    if (ext_list(h, &e, 2, &list) < 0) return;
    while (fp_cur_left(&list) > 0) {
        if (fp_get_be16(&list, &group) < 0 || get_vector(&list, 2, &key) < 0) {
            ext_overrun(h);
            return;
        }
        key_share_group(h, group);
    }
    ext_end(h, &e);
}

static void ext_psk_modes(fp_tls_hello *h, fp_cursor e)
{
    fp_cursor list;
    h->has_psk_modes = 1;
    if (ext_list(h, &e, 1, &list) < 0) return;
    fp_cursor scan = list;
    uint8_t mode;
    while (fp_get_u8(&scan, &mode) == 0) /* GREASE modes: 0x0B, 0x2A, ... 0xE4 */
        if (mode >= 0x0b && (mode - 0x0b) % 0x1f == 0) h->grease |= FP_TLS_GREASE_PSK_MODE;
    h->psk_mode_count = get_u8_list(h, list, h->psk_modes, FP_TLS_MAX_PSK_MODES, FP_TLS_CAP_PSK_MODES);
    ext_end(h, &e);
}

static void ext_point_formats(fp_tls_hello *h, fp_cursor e)
{
    fp_cursor list;
    h->has_point_formats = 1;
    if (ext_list(h, &e, 1, &list) < 0) return;
    h->point_formats_span = span_at(&list, fp_cur_left(&list));
    h->point_format_count = get_u8_list(h, list, h->point_formats, FP_TLS_MAX_POINT_FORMATS,
                                        FP_TLS_CAP_POINT_FORMATS);
    ext_end(h, &e);
}

/* Decode the first occurrence of the extensions we know. */
static void decode_extension(fp_tls_hello *h, uint16_t type, fp_cursor e)
{
    switch (type) {
    case EXT_SERVER_NAME: ext_server_name(h, e); break;
    case EXT_ALPN: ext_alpn(h, e); break;
    case EXT_SUPPORTED_VERSIONS: ext_supported_versions(h, e); break;
    case EXT_SUPPORTED_GROUPS:
        h->has_groups = 1;
        ext_u16_vector(h, e, &h->groups_span, h->groups, FP_TLS_MAX_GROUPS, &h->group_count,
                       FP_TLS_CAP_GROUPS, FP_TLS_GREASE_GROUP);
        break;
    case EXT_SIGNATURE_ALGORITHMS:
        h->has_sigalgs = 1;
        ext_u16_vector(h, e, &h->sigalgs_span, h->sigalgs, FP_TLS_MAX_SIGALGS, &h->sigalg_count,
                       FP_TLS_CAP_SIGALGS, FP_TLS_GREASE_SIGALG);
        break;
    case EXT_KEY_SHARE: ext_key_share(h, e); break;
    case EXT_PSK_KEY_EXCHANGE_MODES: ext_psk_modes(h, e); break;
    case EXT_EC_POINT_FORMATS: ext_point_formats(h, e); break;
    case EXT_ENCRYPTED_CLIENT_HELLO:
        h->has_ech = 1;
        h->ech_type = (!h->is_server && fp_cur_has(&e, 1)) ? fp_peek_u8(&e, 0) : -1;
        break;
    case EXT_QUIC_TRANSPORT_PARAMETERS:
    case EXT_QUIC_TRANSPORT_PARAMETERS_DRAFT: h->has_quic_transport_params = 1; break;
    case EXT_PRE_SHARED_KEY: h->has_psk = 1; break;
    case EXT_EARLY_DATA: h->has_early_data = 1; break;
    default: break;
    }
}

static int seen_before(const fp_tls_hello *h, uint16_t type, uint32_t upto)
{
    for (uint32_t i = 0; i < upto && i < FP_TLS_MAX_EXTENSIONS; i++)
        if (h->exts[i].type == type) return 1;
    return 0;
}

/* The extensions vector body `eb`; `cut`: the vector was cut by the end of the body. */
static void parse_extensions(fp_tls_hello *h, fp_cursor eb, int cut)
{
    int overrun = cut ? FP_TLS_ERR_TRUNCATED : FP_TLS_ERR_LENGTH;
    uint32_t overrun_bit = cut ? FP_TLS_HELLO_A(TRUNCATED) : FP_TLS_HELLO_A(BAD_LENGTH);
    uint64_t low_types = 0; /* types < 64 among the stored entries: most dup checks skip the scan */
    while (fp_cur_left(&eb) > 0) {
        uint16_t type;
        fp_cursor e;
        if (fp_get_be16(&eb, &type) < 0 || get_vector(&eb, 2, &e) < 0) {
            note(h, overrun_bit, overrun);
            return;
        }
        if (h->has_psk && !h->is_server) note(h, FP_TLS_HELLO_A(PSK_NOT_LAST), h->error);
        uint32_t i = h->ext_count++;
        int dup = !fp_tls_is_grease(type) &&
                  (type < 64 ? (int)(low_types >> type) & 1 : seen_before(h, type, i));
        if (i < FP_TLS_MAX_EXTENSIONS) {
            if (type < 64) low_types |= 1ull << type;
            h->exts[i].type = type;
            h->exts[i].data = span_at(&e, fp_cur_left(&e));
        } else {
            h->capped |= FP_TLS_CAP_EXTENSIONS;
        }
        if (fp_tls_is_grease(type)) h->grease |= FP_TLS_GREASE_EXTENSION;
        if (dup) note(h, FP_TLS_HELLO_A(DUP_EXTENSION), h->error);
        else decode_extension(h, type, e);
    }
    if (cut) note(h, FP_TLS_HELLO_A(TRUNCATED), FP_TLS_ERR_TRUNCATED);
}

static void hello_init(fp_tls_hello *h, const uint8_t *body, uint32_t len, int is_server)
{
    memset(h, 0, offsetof(fp_tls_hello, ciphers)); /* the arrays after it: up to their counts */
    h->body = body;
    h->body_len = len;
    h->is_server = (uint8_t)is_server;
    h->ech_type = -1;
}

/* The common head: legacy_version, random, legacy_session_id. 0 or -1 (stopped). */
static int parse_head(fp_tls_hello *h, fp_cursor *c)
{
    fp_cursor sid;
    if (fp_get_be16(c, &h->legacy_version) < 0 || !fp_cur_has(c, 32)) return -1;
    h->random = span_at(c, 32);
    c->ptr += 32;
    if (get_vector(c, 1, &sid) < 0) return -1;
    h->session_id = span_at(&sid, fp_cur_left(&sid));
    if (h->session_id.len > 32) note(h, FP_TLS_HELLO_A(SESSION_ID_LONG), h->error);
    return 0;
}

/* After the fixed fields: the optional extensions vector, then nothing. */
static int parse_tail(fp_tls_hello *h, fp_cursor *c)
{
    if (fp_cur_left(c) == 0) { /* no extensions (allowed before TLS 1.3) */
        h->complete = 1;
        return h->error;
    }
    h->has_extensions = 1;
    fp_cursor eb;
    int cut = get_vector(c, 2, &eb) < 0;
    if (cut) { /* parse what is there: a hello cut short still shows its first extensions */
        if (!fp_cur_has(c, 2)) {
            note(h, FP_TLS_HELLO_A(TRUNCATED), FP_TLS_ERR_TRUNCATED);
            return h->error;
        }
        eb.base = c->base;
        eb.ptr = c->ptr + 2;
        eb.end = c->end;
        c->ptr = c->end;
    }
    h->ext_span = span_at(&eb, fp_cur_left(&eb));
    parse_extensions(h, eb, cut);
    if (!cut && fp_cur_left(c) != 0) note(h, FP_TLS_HELLO_A(TRAILING), FP_TLS_ERR_TRAILING);
    h->complete = h->error == FP_TLS_OK || h->error == FP_TLS_ERR_EXTENSION ||
                  h->error == FP_TLS_ERR_TRAILING;
    return h->error;
}

/* ClientHello after the head: cipher suites and compression methods. -1: cut short. */
static int client_hello_fixed(fp_tls_hello *h, fp_cursor *c)
{
    fp_cursor v;
    if (get_vector(c, 2, &v) < 0) return -1;
    h->cipher_span = span_at(&v, fp_cur_left(&v));
    h->cipher_count = get_u16_list(h, v, h->ciphers, FP_TLS_MAX_CIPHERS, FP_TLS_CAP_CIPHERS,
                                   FP_TLS_GREASE_CIPHER, FP_TLS_ERR_LENGTH);
    if (h->cipher_count == 0) note(h, FP_TLS_HELLO_A(EMPTY_LIST), h->error);
    if (get_vector(c, 1, &v) < 0) return -1;
    h->compression_span = span_at(&v, fp_cur_left(&v));
    h->compression_count = get_u8_list(h, v, h->compression, FP_TLS_MAX_COMPRESSION,
                                       FP_TLS_CAP_COMPRESSION);
    if (h->compression_count == 0) note(h, FP_TLS_HELLO_A(EMPTY_LIST), h->error);
    return 0;
}

/* ServerHello after the head: the selected cipher suite and compression method. */
static int server_hello_fixed(fp_tls_hello *h, fp_cursor *c)
{
    uint8_t comp;
    h->is_hrr = memcmp(h->body + h->random.off, hrr_random, 32) == 0;
    h->selected_version = h->legacy_version;
    fp_tls_span at = span_at(c, 2);
    if (fp_get_be16(c, &h->cipher) < 0) return -1;
    h->cipher_span = at;
    h->cipher_count = 1;
    h->ciphers[0] = h->cipher;
    if (fp_tls_is_grease(h->cipher)) h->grease |= FP_TLS_GREASE_CIPHER;
    at = span_at(c, 1);
    if (fp_get_u8(c, &comp) < 0) return -1;
    h->compression_span = at;
    h->compression_count = 1;
    h->compression[0] = comp;
    return 0;
}

/* Either hello: the common head, the kind's fixed fields, the extensions. */
static int hello_parse(const uint8_t *body, uint32_t len, fp_tls_hello *h, int is_server)
{
    if (h == NULL) return FP_TLS_ERR_ARGUMENT;
    hello_init(h, body, len, is_server);
    if (body == NULL) {
        h->error = FP_TLS_ERR_ARGUMENT;
        return h->error;
    }
    fp_cursor c = fp_cursor_make(body, len);
    if (parse_head(h, &c) < 0 ||
        (is_server ? server_hello_fixed(h, &c) : client_hello_fixed(h, &c)) < 0) {
        note(h, FP_TLS_HELLO_A(TRUNCATED), FP_TLS_ERR_TRUNCATED);
        return h->error;
    }
    parse_tail(h, &c);
    if (h->capped) h->anomalies |= FP_TLS_HELLO_A(CAPPED);
    return h->error;
}

int fp_tls_client_hello_parse(const uint8_t *body, uint32_t len, fp_tls_hello *h)
{
    return hello_parse(body, len, h, 0);
}

int fp_tls_server_hello_parse(const uint8_t *body, uint32_t len, fp_tls_hello *h)
{
    return hello_parse(body, len, h, 1);
}

int fp_tls_client_hello_parse_compact(const uint8_t *body, uint32_t len, uint32_t stream_anomalies,
                                      fp_tls_hello *h)
{
    fp_tls_client_hello_parse(body, len, h);
    if (h->error == FP_TLS_ERR_ARGUMENT) return h->error;
    h->anomalies |= stream_anomalies;
    int err = (stream_anomalies & FP_TLS_HELLO_A(TRUNCATED)) ? FP_TLS_ERR_TRUNCATED
              : (stream_anomalies & FP_TLS_HELLO_A(EXT_MALFORMED)) ? FP_TLS_ERR_EXTENSION
              : (stream_anomalies & FP_TLS_HELLO_A(TRAILING)) ? FP_TLS_ERR_TRAILING
                                                                : FP_TLS_OK;
    if (err == FP_TLS_ERR_TRUNCATED) {
        h->error = err;
        h->complete = 0;
    } else if (h->error == FP_TLS_OK) {
        h->error = err;
    }
    return h->error;
}


/* ==== Streaming ClientHello ======================================================== */

/* Run states consume `left` bytes (the first `keep` copied, the rest skipped); field
 * states gather `acc_need` bytes into acc. */
enum {
    S_HEAD,      /* run: legacy_version + random */
    S_SID_LEN,   /* field */
    S_SID,       /* run */
    S_CS_LEN,    /* field */
    S_CS,        /* run: kept up to cap/2 */
    S_COMP_LEN,  /* field */
    S_COMP,      /* run */
    S_EXTS_LEN,  /* field */
    S_EXT_HDR,   /* field: type + length */
    S_EXT_DATA,  /* run */
    S_EXT_RAW,   /* run: under 4 bytes left in the extensions vector, copied as they are */
    S_KS_LEN,    /* field: key_share client_shares length */
    S_KS_ENTRY,  /* field: group + key_exchange length */
    S_KS_KEY,    /* run: skipped */
};

static int st_run(uint8_t st)
{
    return st == S_HEAD || st == S_SID || st == S_CS || st == S_COMP || st == S_EXT_DATA ||
           st == S_EXT_RAW || st == S_KS_KEY;
}
static int st_in_exts(uint8_t st) { return st >= S_EXT_HDR; }
static int st_in_ext(uint8_t st) { return st == S_EXT_DATA || st >= S_KS_LEN; }
static int st_in_ks(uint8_t st) { return st == S_KS_ENTRY || st == S_KS_KEY; }

/* Kinds of extension the parser decodes from their first occurrence (one bit each). */
static int known_kind(uint16_t type)
{
    switch (type) {
    case EXT_SERVER_NAME: return 0;
    case EXT_SUPPORTED_GROUPS: return 1;
    case EXT_EC_POINT_FORMATS: return 2;
    case EXT_SIGNATURE_ALGORITHMS: return 3;
    case EXT_ALPN: return 4;
    case EXT_SUPPORTED_VERSIONS: return 5;
    case EXT_PSK_KEY_EXCHANGE_MODES: return 6;
    case EXT_KEY_SHARE: return 7;
    case EXT_ENCRYPTED_CLIENT_HELLO: return 8;
    default: return -1;
    }
}

void fp_tls_ch_stream_init(fp_tls_ch_stream *s, uint32_t wire_len, uint32_t cap)
{
    memset(s, 0, sizeof *s);
    s->cap = cap < FP_TLS_HELLO_FIELDS_MIN ? FP_TLS_HELLO_FIELDS_MIN : cap;
    s->wire_len = wire_len;
    s->state = S_HEAD;
    s->left = s->keep = 34;
    if (wire_len > FP_TLS_CH_MAX_BODY) s->anomalies |= FP_TLS_HELLO_A(IMPLAUSIBLE_LENGTH);
}

void fp_tls_ch_stream_free(fp_tls_ch_stream *s)
{
    free(s->out);
    s->out = NULL;
    s->out_len = s->out_cap = 0;
}

size_t fp_tls_ch_stream_memory(const fp_tls_ch_stream *s) { return sizeof *s + s->out_cap; }

static int out_put(fp_tls_ch_stream *s, const uint8_t *p, uint32_t n)
{
    uint32_t need = s->out_len + n;
    if (need > s->out_cap) {
        uint32_t cap = s->out_cap ? s->out_cap : 512;
        while (cap < need) cap *= 2;
        uint8_t *b = realloc(s->out, cap);
        if (b == NULL) return -1;
        s->out = b;
        s->out_cap = cap;
    }
    memcpy(s->out + s->out_len, p, n);
    s->out_len = need;
    return 0;
}

/* Rewrite the 2-byte length at `pos` to cover what follows it in out. */
static void out_patch(fp_tls_ch_stream *s, uint32_t pos)
{
    uint32_t v = s->out_len - pos - 2;
    s->out[pos] = (uint8_t)(v >> 8);
    s->out[pos + 1] = (uint8_t)v;
}

static void set_run(fp_tls_ch_stream *s, uint8_t st, uint32_t left, uint32_t keep)
{
    s->state = st;
    s->left = left;
    s->keep = keep < left ? keep : left;
}

static void set_field(fp_tls_ch_stream *s, uint8_t st, uint8_t need)
{
    s->state = st;
    s->acc_have = 0;
    s->acc_need = need;
}

/* The current extension is over: the next header, or the end of the vector (the fields
 * are complete then, whatever the header claimed). */
static void next_ext(fp_tls_ch_stream *s)
{
    if (s->exts_left >= 4) {
        set_field(s, S_EXT_HDR, 4);
    } else if (s->exts_left > 0) {
        set_run(s, S_EXT_RAW, s->exts_left, s->exts_left);
    } else {
        out_patch(s, s->exts_pos);
        if (s->seen < s->wire_len) s->anomalies |= FP_TLS_HELLO_A(TRAILING);
        s->done = 1;
    }
}

static void ks_malformed(fp_tls_ch_stream *s)
{
    s->ks_bad = 1;
    set_run(s, S_EXT_DATA, s->ext_left, 0);
}

/* key_share: KeyShareEntry client_shares<0..2^16-1> (RFC 8446 4.2.8), each a group and
 * key_exchange<1..2^16-1>; the keys are skipped. */
static void ks_next(fp_tls_ch_stream *s)
{
    if (s->ks_left == 0) set_run(s, S_EXT_DATA, s->ext_left, 0);
    else if (s->ks_left < 4) ks_malformed(s);
    else set_field(s, S_KS_ENTRY, 4);
}

/* An extension header in acc: what of its data is kept. 0, or -1 (no memory). */
static int ext_header(fp_tls_ch_stream *s)
{
    uint16_t type = fp_load_be16(s->acc), len = fp_load_be16(s->acc + 2);
    uint32_t cap = s->cap;
    s->hdr_pos = s->out_len + 2;
    s->hdr_len = len;
    if (len > s->exts_left) { /* overruns the vector: the header stays for the parse to see */
        s->ext_left = s->exts_left;
        set_run(s, S_EXT_DATA, s->exts_left, 0);
        return out_put(s, s->acc, 4);
    }
    s->ext_left = len;
    int kind = fp_tls_is_grease(type) ? -1 : known_kind(type);
    int first = kind >= 0 && !(s->decoded & (1u << kind));
    if (kind >= 0) s->decoded |= (uint16_t)(1u << kind);
    if (first && type == EXT_KEY_SHARE && len >= 2 && s->out_len + 6 <= cap) {
        s->ext_pos = s->out_len + 2; /* both lengths are rewritten when the entries end */
        s->ks_open = 1;
        set_field(s, S_KS_LEN, 2);
        return out_put(s, s->acc, 4);
    }
    if (first && type == EXT_ENCRYPTED_CLIENT_HELLO && s->out_len + 5 <= cap) {
        uint8_t hdr[4] = {s->acc[0], s->acc[1], 0, len ? 1 : 0}; /* its type byte */
        set_run(s, S_EXT_DATA, len, 1);
        return out_put(s, hdr, 4);
    }
    if (first && s->out_len + 4u + len <= cap) {
        set_run(s, S_EXT_DATA, len, len);
        return out_put(s, s->acc, 4);
    }
    set_run(s, S_EXT_DATA, len, 0);
    /* past the cap: decoded data is dropped first, entries stop at 7/8 of it */
    if (first || s->out_len + 4 > cap - cap / 8) s->anomalies |= FP_TLS_HELLO_A(OVER_CAP);
    if (s->out_len + 4 > (first ? cap : cap - cap / 8)) return 0;
    uint8_t hdr[4] = {s->acc[0], s->acc[1], 0, 0};
    return out_put(s, hdr, 4);
}

/* The field or run of the current state is complete: move on. 0, or -1 (no memory). */
static int advance(fp_tls_ch_stream *s)
{
    uint32_t v = s->acc_need == 2 ? fp_load_be16(s->acc) : s->acc[0];
    switch (s->state) {
    case S_HEAD:
        set_field(s, S_SID_LEN, 1);
        return 0;
    case S_SID_LEN:
        set_run(s, S_SID, v, v);
        return out_put(s, s->acc, 1);
    case S_SID:
        set_field(s, S_CS_LEN, 2);
        return 0;
    case S_CS_LEN: {
        uint32_t budget = (s->cap / 2) & ~1u;
        s->cs_pos = s->out_len;
        set_run(s, S_CS, v, budget);
        return out_put(s, s->acc, 2);
    }
    case S_CS:
        out_patch(s, s->cs_pos);
        set_field(s, S_COMP_LEN, 1);
        return 0;
    case S_COMP_LEN:
        set_run(s, S_COMP, v, v);
        return out_put(s, s->acc, 1);
    case S_COMP:
        if (s->seen == s->wire_len) s->done = 1; /* no extensions (allowed before TLS 1.3) */
        else set_field(s, S_EXTS_LEN, 2);
        return 0;
    case S_EXTS_LEN:
        s->exts_pos = s->out_len;
        s->exts_left = v;
        if (out_put(s, s->acc, 2) < 0) return -1;
        next_ext(s);
        return 0;
    case S_EXT_HDR:
        return ext_header(s);
    case S_EXT_DATA:
        if (s->ks_open) { /* a whole key_share: a malformation counts (a cut one is not framed) */
            out_patch(s, s->ks_pos);
            out_patch(s, s->ext_pos);
            if (s->ks_bad) s->anomalies |= FP_TLS_HELLO_A(EXT_MALFORMED);
            s->ks_open = s->ks_bad = 0;
        }
        next_ext(s);
        return 0;
    case S_EXT_RAW:
        next_ext(s);
        return 0;
    case S_KS_LEN:
        s->ks_pos = s->out_len;
        if (out_put(s, s->acc, 2) < 0) return -1;
        if (v > s->ext_left) {
            ks_malformed(s);
            return 0;
        }
        if (v < s->ext_left) s->ks_bad = 1; /* bytes after client_shares */
        s->ks_left = v;
        ks_next(s);
        return 0;
    case S_KS_ENTRY: {
        uint32_t klen = fp_load_be16(s->acc + 2);
        if (klen > s->ks_left) {
            ks_malformed(s);
            return 0;
        }
        set_run(s, S_KS_KEY, klen, 0);
        if (s->out_len + 4 > s->cap) {
            s->anomalies |= FP_TLS_HELLO_A(OVER_CAP);
            return 0;
        }
        uint8_t entry[4] = {s->acc[0], s->acc[1], 0, 0};
        return out_put(s, entry, 4);
    }
    case S_KS_KEY:
        ks_next(s);
        return 0;
    default:
        return 0;
    }
}

/* Consume what the current state takes of p[0..n) (possibly nothing: a complete state
 * moves on). Returns the bytes used, or -1 (no memory). */
static long ch_step(fp_tls_ch_stream *s, const uint8_t *p, size_t n)
{
    uint8_t st = s->state;
    size_t used;
    int complete;
    if (st_run(st)) {
        used = s->left < n ? s->left : n;
        size_t copy = s->keep < used ? s->keep : used;
        if (copy && out_put(s, p, (uint32_t)copy) < 0) return -1;
        if (st == S_CS && copy < used) s->anomalies |= FP_TLS_HELLO_A(OVER_CAP); /* suites past cap/2 */
        s->keep -= (uint32_t)copy;
        s->left -= (uint32_t)used;
        complete = s->left == 0;
    } else {
        used = (size_t)(s->acc_need - s->acc_have) < n ? (size_t)(s->acc_need - s->acc_have) : n;
        memcpy(s->acc + s->acc_have, p, used);
        s->acc_have = (uint8_t)(s->acc_have + used);
        complete = s->acc_have == s->acc_need;
    }
    s->seen += (uint32_t)used;
    if (st_in_exts(st)) s->exts_left -= (uint32_t)used;
    if (st_in_ext(st)) s->ext_left -= (uint32_t)used;
    if (st_in_ks(st)) s->ks_left -= (uint32_t)used;
    if (complete && advance(s) < 0) return -1;
    return (long)used;
}

static int ch_past_session_id(const fp_tls_ch_stream *s) { return s->state > S_SID; }

/* The body ended (or the input did) inside the fields: a partly read field goes out as it
 * is, so the compact form is cut where the hello was. */
static int ch_cut(fp_tls_ch_stream *s)
{
    /* an extension cut inside its data claims its length again (nothing kept follows) */
    if (s->state == S_EXT_DATA && s->left > 0 && !s->ks_open && s->hdr_pos + 2 <= s->out_len) {
        s->out[s->hdr_pos] = (uint8_t)(s->hdr_len >> 8);
        s->out[s->hdr_pos + 1] = (uint8_t)s->hdr_len;
    }
    if (!st_run(s->state) && s->acc_have && out_put(s, s->acc, s->acc_have) < 0) return -1;
    s->acc_have = 0;
    s->done = 1;
    return 0;
}

int fp_tls_ch_stream_feed(fp_tls_ch_stream *s, const uint8_t *p, size_t n)
{
    if (s->done) return 1;
    if (n > s->wire_len - s->seen) n = s->wire_len - s->seen;
    while (!s->done && (n > 0 || (st_run(s->state) && s->left == 0))) {
        long used = ch_step(s, p, n);
        if (used < 0) return -1;
        p += used;
        n -= (size_t)used;
    }
    if (!s->done && s->seen == s->wire_len && ch_cut(s) < 0) return -1;
    return s->done;
}

/* ==== One segment (pkt.tls) ======================================================= */

#define TLS_MAX_FRAGS 16

/* The handshake byte stream: fragments of record bodies, in record order. */
typedef struct {
    const uint8_t *data;
    uint32_t off[TLS_MAX_FRAGS], len[TLS_MAX_FRAGS];
    int n;
    uint32_t total;
} hs_stream;

/* Read `width` (1..4) bytes big-endian at logical position pos: 0, or -1 past the end. */
static int hs_read(const hs_stream *h, uint32_t pos, int width, uint32_t *v)
{
    if (pos > h->total || (uint32_t)width > h->total - pos)
        return -1;
    uint32_t acc = 0;
    int f = 0;
    uint32_t at = pos;
    for (int k = 0; k < width; k++, at++) {
        while (at >= h->len[f]) { /* bounded: at < total guarantees a fragment */
            at -= h->len[f];
            f++;
        }
        acc = (acc << 8) | h->data[h->off[f] + at];
    }
    *v = acc;
    return 0;
}

/* Segment offset of [pos, pos+len) when it lies in a single fragment, else 0. */
static uint32_t hs_contiguous(const hs_stream *h, uint32_t pos, uint32_t len)
{
    for (int f = 0; f < h->n; f++) {
        if (pos < h->len[f])
            return len <= h->len[f] - pos ? h->off[f] + pos : 0;
        pos -= h->len[f];
    }
    return 0;
}

/* Copy stream bytes [pos, pos + len) to out (pos + len <= total). */
static void hs_copy(const hs_stream *h, uint32_t pos, uint32_t len, uint8_t *out)
{
    for (int f = 0; f < h->n && len > 0; f++) {
        if (pos >= h->len[f]) {
            pos -= h->len[f];
            continue;
        }
        uint32_t n = h->len[f] - pos < len ? h->len[f] - pos : len;
        memcpy(out, h->data + h->off[f] + pos, n);
        out += n;
        len -= n;
        pos = 0;
    }
}

/* Walk the records of the segment; collect consecutive handshake bodies. Returns 1 when a
 * handshake record was left out because TLS_MAX_FRAGS were collected. */
static int collect_records(const uint8_t *data, uint32_t off, uint32_t end, fp_tls_info *t,
                           hs_stream *h)
{
    fp_cursor c = fp_cursor_make(data, end);
    c.ptr += off;
    int collecting = 1, capped = 0;
    while (fp_cur_has(&c, 5) && fp_tls_record_plausible(c.ptr, fp_cur_left(&c), 0)) {
        uint8_t type = fp_peek_u8(&c, 0);
        uint32_t rlen = fp_peek_be16(&c, 3);
        if (t->record_count++ == 0) {
            t->content_type = type;
            t->record_version = fp_peek_be16(&c, 1);
            t->record_length = (uint16_t)rlen;
        }
        c.ptr += 5;
        uint32_t avail = (uint32_t)fp_cur_left(&c) < rlen ? (uint32_t)fp_cur_left(&c) : rlen;
        capped |= collecting && type == 22 && h->n == TLS_MAX_FRAGS;
        collecting = collecting && type == 22 && h->n < TLS_MAX_FRAGS;
        if (collecting && avail > 0) {
            h->off[h->n] = fp_cur_off(&c);
            h->len[h->n] = avail;
            h->n++;
            h->total += avail;
        }
        if (avail < rlen) /* the record continues in a later segment */
            break;
        c.ptr += rlen;
    }
    return capped;
}

/* A length overruns its container (tshark's "Malformed" group; odd list lengths, empty
 * names and trailing bytes are only its warnings). Judged on a whole message only: a hello
 * cut by the segment end is truncated (tshark judges no message it has not seen whole). */
static int hello_malformed(const fp_tls_hello *hello)
{
    return (hello->anomalies & (FP_TLS_HELLO_A(BAD_LENGTH) | FP_TLS_HELLO_A(TRUNCATED))) ||
           hello->ext_overrun;
}

/* Stream bytes [pos, pos + len): in place when they lie in one record, else gathered into
 * *gathered (free() it). NULL when that allocation failed. */
static const uint8_t *hs_bytes(const hs_stream *h, uint32_t pos, uint32_t len, uint8_t **gathered)
{
    *gathered = NULL;
    uint32_t at = len ? hs_contiguous(h, pos, len) : 0;
    if (at || !len)
        return at ? h->data + at : h->data; /* len 0: any non-NULL pointer */
    if ((*gathered = malloc(len)) != NULL)
        hs_copy(h, pos, len, *gathered);
    return *gathered;
}

/* The ClientHello body: stream bytes [4, 4 + len). */
static void parse_client_hello(const hs_stream *h, uint32_t len, fp_tls_info *t)
{
    fp_tls_hello hello;
    uint8_t *gathered;
    const uint8_t *body = hs_bytes(h, 4, len, &gathered);
    if (body == NULL)
        return;
    fp_tls_client_hello_parse(body, len, &hello);
    t->malformed = t->hello_complete && hello_malformed(&hello);
    for (uint32_t i = 0; i < hello.sni_count && i < FP_TLS_MAX_SNI; i++) {
        if (hello.sni[i].len == 0)
            continue;
        uint32_t off = hs_contiguous(h, 4 + hello.sni[i].off, hello.sni[i].len);
        if (off != 0) {
            t->sni.off = off;
            t->sni.len = hello.sni[i].len;
        }
        break;
    }
    free(gathered);
}

int fp_tls_parse_span(const uint8_t *data, uint32_t off, uint32_t end, fp_tls_info *t)
{
    t->content_type = 0;
    t->record_version = 0;
    t->record_length = 0;
    t->record_count = 0;
    t->handshake_type = -1;
    t->is_client_hello = 0;
    t->hello_version = 0;
    t->sni.off = t->sni.len = 0;
    t->hello_complete = 0;
    t->malformed = 0;
    t->capped = 0;
    if (end <= off || end - off < 5 || !fp_tls_record_plausible(data + off, end - off, 0))
        return -1;
    hs_stream h = {.data = data, .n = 0, .total = 0};
    int capped = collect_records(data, off, end, t, &h);
    uint32_t type, msg_len, version;
    if (hs_read(&h, 0, 1, &type) != 0)
        return 0;
    t->handshake_type = (int)type;
    if ((type != 1 && type != 2) || hs_read(&h, 1, 3, &msg_len) != 0)
        return 0;
    if (hs_read(&h, 4, 2, &version) == 0)
        t->hello_version = (uint16_t)version;
    if (type != 1)
        return 0;
    t->is_client_hello = 1;
    uint32_t have = h.total - 4 < msg_len ? h.total - 4 : msg_len;
    t->hello_complete = have == msg_len;
    t->capped = capped && !t->hello_complete;
    parse_client_hello(&h, have, t);
    return 0;
}

int fp_tls_parse(const uint8_t *data, const fp_dissection *d, fp_tls_info *t)
{
    if (!FP_HAS(d, FP_L_TLS))
        return -1;
    const fp_span *s = &d->layer[FP_L_TLS];
    return fp_tls_parse_span(data, s->off + s->hlen, s->end, t);
}

/* ---- Fields (Wireshark's tls, one segment) ------------------------------ */

/* Record header fields, one per record complete in the segment (RFC 8446 5.1). */
static int tls_record_field(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    if (!FP_HAS(x->d, FP_L_TLS))
        return 0;
    const fp_span *s = &x->d->layer[FP_L_TLS];
    fp_cursor c = fp_cursor_make(x->data, s->end);
    c.ptr += s->off;
    int n = 0;
    while (fp_cur_has(&c, 5) && fp_tls_record_plausible(c.ptr, fp_cur_left(&c), 0)) {
        const uint8_t *record = c.ptr;
        if (fp_skip(&c, 5u + fp_peek_be16(&c, 3)) != 0)
            break;
        fp_field_value v;
        fp_field_decode(f, record + f->offset, &v);
        n++;
        if (visit(arg, &v))
            break;
    }
    return n;
}

/* The ClientHello's server name (also from a hello the segment cuts). */
static int tls_sni(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    (void)f;
    fp_tls_info t;
    if (!FP_HAS(x->d, FP_L_TLS) || fp_tls_parse(x->data, x->d, &t) != 0 || t.sni.len == 0)
        return 0;
    fp_field_value v = {0, x->data + t.sni.off, t.sni.len};
    visit(arg, &v);
    return 1;
}

/* Handshake message fields: arg picks the value. */
enum { HS_TYPE, HS_VERSION, HS_CIPHER, HS_EXT_TYPE, HS_ALPN };

/* The values of field `which` in one parsed hello, counted in *n; 1 when visit stopped. */
static int hello_values(int which, const fp_tls_hello *h, fp_field_visit visit, void *arg, int *n)
{
    fp_field_value v = {0, NULL, 0};
    fp_cursor c;
    uint16_t u, len;
    switch (which) {
    case HS_VERSION:
        if (h->body_len < 2)
            return 0;
        v.u = h->legacy_version;
        ++*n;
        return visit(arg, &v);
    case HS_CIPHER: /* every suite offered (the span, not the capped array); the selected one */
        c = fp_cursor_make(h->body, h->cipher_span.off + h->cipher_span.len);
        c.ptr += h->cipher_span.off;
        while (fp_get_be16(&c, &u) == 0) {
            v.u = u;
            ++*n;
            if (visit(arg, &v))
                return 1;
        }
        return 0;
    case HS_EXT_TYPE:
        c = fp_cursor_make(h->body, h->ext_span.off + h->ext_span.len);
        c.ptr += h->ext_span.off;
        while (fp_get_be16(&c, &u) == 0 && fp_get_be16(&c, &len) == 0) {
            v.u = u;
            ++*n;
            if (visit(arg, &v))
                return 1;
            if (fp_skip(&c, len) != 0)
                break;
        }
        return 0;
    case HS_ALPN:
        for (uint32_t i = 0; i < h->alpn_count && i < FP_TLS_MAX_ALPN; i++) {
            v.p = h->body + h->alpn[i].off;
            v.len = h->alpn[i].len;
            ++*n;
            if (visit(arg, &v))
                return 1;
        }
        return 0;
    default:
        return 0;
    }
}

/* The bodies of the segment's complete handshake records, up to a ChangeCipherSpec (the
 * handshake is encrypted after it), as one stream: tshark's view without reassembly. */
static void collect_handshake(const uint8_t *data, const fp_span *s, hs_stream *h)
{
    fp_cursor c = fp_cursor_make(data, s->end);
    c.ptr += s->off + s->hlen;
    while (fp_cur_has(&c, 5) && fp_tls_record_plausible(c.ptr, fp_cur_left(&c), 0)) {
        uint8_t type = fp_peek_u8(&c, 0);
        uint32_t at = fp_cur_off(&c) + 5, rlen = fp_peek_be16(&c, 3);
        if (type == 20 || fp_skip(&c, 5u + rlen) != 0)
            break;
        if (type != 22 || rlen == 0 || h->n == TLS_MAX_FRAGS)
            continue;
        h->off[h->n] = at;
        h->len[h->n++] = rlen;
        h->total += rlen;
    }
}

/* Handshake messages whole in those records: each message's type, and the fields of each
 * ClientHello/ServerHello, read by the parser pkt.tls and the hello engine use. */
static int tls_handshake_field(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    if (!FP_HAS(x->d, FP_L_TLS))
        return 0;
    hs_stream h = {.data = x->data, .n = 0, .total = 0};
    collect_handshake(x->data, &x->d->layer[FP_L_TLS], &h);
    int n = 0;
    uint32_t pos = 0, type, len;
    while (hs_read(&h, pos, 1, &type) == 0 && hs_read(&h, pos + 1, 3, &len) == 0 &&
           len <= h.total - pos - 4) {
        if (f->arg == HS_TYPE) {
            fp_field_value v = {type, NULL, 0};
            n++;
            if (visit(arg, &v))
                break;
        } else if (type == 1 || type == 2) {
            uint8_t *gathered;
            const uint8_t *body = hs_bytes(&h, pos + 4, len, &gathered);
            if (body == NULL)
                break;
            fp_tls_hello hello;
            if (type == 1)
                fp_tls_client_hello_parse(body, len, &hello);
            else
                fp_tls_server_hello_parse(body, len, &hello);
            int stop = hello_values(f->arg, &hello, visit, arg, &n);
            free(gathered);
            if (stop)
                break;
        }
        pos += 4 + len;
    }
    return n;
}

#define TLS_HS(name, type, bits, which) {name, type, bits, FP_L_TLS, which, 0, 0, tls_handshake_field}
static const fp_field tls_fields[] = {
    FP_FIELD_PROTO("tls", FP_L_TLS),
    {"tls.record.content_type", FP_FT_UINT, 8, FP_L_TLS, 0, 0, 0, tls_record_field},
    {"tls.record.version", FP_FT_UINT, 16, FP_L_TLS, 0, 1, 0, tls_record_field},
    {"tls.record.length", FP_FT_UINT, 16, FP_L_TLS, 0, 3, 0, tls_record_field},
    {"tls.handshake.extensions_server_name", FP_FT_STRING, 0, FP_L_TLS, 0, 0, 0, tls_sni},
    TLS_HS("tls.handshake.type", FP_FT_UINT, 8, HS_TYPE),
    TLS_HS("tls.handshake.version", FP_FT_UINT, 16, HS_VERSION),
    TLS_HS("tls.handshake.ciphersuite", FP_FT_UINT, 16, HS_CIPHER),
    TLS_HS("tls.handshake.extension.type", FP_FT_UINT, 16, HS_EXT_TYPE),
    TLS_HS("tls.handshake.extensions_alpn_str", FP_FT_STRING, 0, HS_ALPN),
};
FP_FIELD_TABLE(fp_fields_tls, "tls", tls_fields);
