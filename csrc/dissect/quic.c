/* QUIC Initial packets for passive observers (see quic.h for the API).
 *   RFC 9000 section 17.2 (long header), 17.2.2 (Initial), 17.2.5 (Retry), 17.3 (short
 *   header), 16 (varints), 12.2 (coalesced packets), 19 (frames), Appendix A.3 (packet
 *   number decoding).
 *   RFC 9001 section 5.2 (Initial secrets), 5.3 (AEAD nonce and AAD), 5.4 (header
 *   protection: sample at pn_offset + 4, AES-128-ECB mask), 7.1 of RFC 8446 (HKDF-Expand-Label).
 *   RFC 9369 section 3 (QUIC v2: version 0x6b3343cf, Initial type 0b01, Retry 0b00, salt,
 *   "quicv2 " labels).
 * Every read of datagram bytes goes through the cursor helpers or an explicit length check.
 * Lengths from the wire are checked against what is left before use; loops consume at least
 * one byte per step, and decryption attempts per datagram are capped. */
#include "quic.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cursor.h"
#include "fields.h"

const char *const fp_quic_packet_type_names[FP_QUIC_PKT_COUNT] = {
    "initial", "0rtt", "handshake", "retry", "version_negotiation", "short", "unknown_version",
};

const char *const fp_quic_status_names[FP_QUIC_STATUS_COUNT] = {
    "ok", "skipped", "truncated", "bad_header", "too_short", "no_keys", "auth_failed",
    "no_scratch", "limit", "crypto_error",
};

const char *const fp_quic_frame_names[FP_QUIC_FRAME_BITS] = {
    "padding", "ping", "ack", "crypto", "connection_close", "unknown_frame", "frame_malformed",
};

const char *const fp_quic_flag_names[FP_QUIC_F_COUNT_BITS] = {
    "empty", "truncated", "cid_too_long", "auth_failed", "no_keys", "unknown_frame",
    "frame_malformed", "frags_full", "many_packets", "decrypt_limit", "dcid_mismatch",
    "reserved_bits", "rekeyed", "retry", "version_negotiation", "short_header",
    "unsupported_version", "trailing", "fixed_bit_clear", "too_short", "crypto_over_window",
};

/* RFC 9001 section 5.2 and RFC 9369 section 3.3.1. */
static const uint8_t salt_v1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                    0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
static const uint8_t salt_v2[20] = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
                                    0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};

#define VARINT_MAX ((UINT64_C(1) << 62) - 1)
#define AEAD_TAG 16
#define HP_SAMPLE 16

int fp_quic_version_supported(uint32_t version)
{
    return version == FP_QUIC_VERSION_1 || version == FP_QUIC_VERSION_2;
}

static int version_slot(uint32_t version) { return version == FP_QUIC_VERSION_2 ? 1 : 0; }

/* ---- Varints ----------------------------------------------------------------- */
int fp_quic_varint(const uint8_t *p, size_t len, uint64_t *v)
{
    if (len < 1) return 0;
    int n = 1 << (p[0] >> 6);
    if (len < (size_t)n) return 0;
    uint64_t acc = p[0] & 0x3f;
    for (int i = 1; i < n; i++) acc = (acc << 8) | p[i];
    *v = acc;
    return n;
}

static int get_varint(fp_cursor *c, uint64_t *v)
{
    int n = fp_quic_varint(c->ptr, fp_cur_left(c), v);
    if (n == 0) return -1;
    c->ptr += n;
    return 0;
}

/* ---- Key derivation (HKDF with SHA-256, RFC 5869; labels per RFC 8446 7.1) ------ */
static int hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                       uint8_t out[32])
{
    static const uint8_t empty[1] = {0};
    unsigned int out_len = 0;
    if (key_len > 1024) return -1;
    if (HMAC(EVP_sha256(), key, (int)key_len, msg_len ? msg : empty, msg_len, out, &out_len) ==
            NULL ||
        out_len != 32)
        return -1;
    return 0;
}

/* HKDF-Expand-Label(secret, label, "", out_len) for out_len <= 32 (one HMAC block). */
static int hkdf_expand_label(const uint8_t secret[32], const char *label, uint8_t *out,
                             size_t out_len)
{
    uint8_t info[64], block[32];
    size_t label_len = strlen(label);
    size_t full = 6 + label_len; /* "tls13 " + label */
    if (out_len > 32 || full + 5 > sizeof info) return -1;
    info[0] = (uint8_t)(out_len >> 8);
    info[1] = (uint8_t)out_len;
    info[2] = (uint8_t)full;
    memcpy(info + 3, "tls13 ", 6);
    memcpy(info + 9, label, label_len);
    info[3 + full] = 0; /* empty context */
    info[4 + full] = 1; /* HKDF-Expand counter T(1) */
    if (hmac_sha256(secret, 32, info, full + 5, block) < 0) return -1;
    memcpy(out, block, out_len);
    return 0;
}

static int derive_direction(const uint8_t initial_secret[32], const char *which, int v2,
                            fp_quic_dir_keys *k)
{
    if (hkdf_expand_label(initial_secret, which, k->secret, 32) < 0) return -1;
    if (hkdf_expand_label(k->secret, v2 ? "quicv2 key" : "quic key", k->key, 16) < 0) return -1;
    if (hkdf_expand_label(k->secret, v2 ? "quicv2 iv" : "quic iv", k->iv, 12) < 0) return -1;
    if (hkdf_expand_label(k->secret, v2 ? "quicv2 hp" : "quic hp", k->hp, 16) < 0) return -1;
    return 0;
}

int fp_quic_derive_initial_keys(uint32_t version, const uint8_t *dcid, size_t dcid_len,
                                fp_quic_initial_keys *out)
{
    memset(out, 0, sizeof *out);
    if (!fp_quic_version_supported(version)) return -1;
    int v2 = version == FP_QUIC_VERSION_2;
    out->version = version;
    if (hmac_sha256(v2 ? salt_v2 : salt_v1, 20, dcid, dcid_len, out->initial_secret) < 0 ||
        derive_direction(out->initial_secret, "client in", v2, &out->client) < 0 ||
        derive_direction(out->initial_secret, "server in", v2, &out->server) < 0) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}

/* ---- Key cache --------------------------------------------------------------- */
void fp_quic_cache_init(fp_quic_keys_cache *c)
{
    memset(c, 0, sizeof *c);
    c->largest_pn[0] = c->largest_pn[1] = -1;
}

int fp_quic_cache_set_dcid(fp_quic_keys_cache *c, const uint8_t *dcid, size_t len)
{
    if (len > FP_QUIC_MAX_CID) return -1;
    if (c->have_dcid) c->rekeys++;
    c->have_dcid = 1;
    c->dcid_len = (uint8_t)len;
    if (len) memcpy(c->dcid, dcid, len);
    c->slot_valid[0] = c->slot_valid[1] = 0;
    return 0;
}

const fp_quic_initial_keys *fp_quic_cache_keys(fp_quic_keys_cache *c, uint32_t version)
{
    if (!c->have_dcid || !fp_quic_version_supported(version)) return NULL;
    int s = version_slot(version);
    if (!c->slot_valid[s]) {
        if (fp_quic_derive_initial_keys(version, c->dcid, c->dcid_len, &c->slot[s]) < 0)
            return NULL;
        c->slot_valid[s] = 1;
    }
    return &c->slot[s];
}

static int cid_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* ---- Frames (RFC 9000 section 19) ------------------------------------------------ */
uint32_t fp_quic_parse_frames(const uint8_t *payload, size_t len, uint8_t packet,
                              fp_quic_crypto_frag *frags, int max_frags, int *found,
                              uint64_t *close_error, uint64_t *close_frame_type)
{
    fp_cursor c = fp_cursor_make(payload, len);
    uint32_t bits = 0;
    int n = 0;
    while (fp_cur_has(&c, 1)) {
        uint64_t type, a, b, count;
        if (get_varint(&c, &type) < 0) {
            bits |= FP_QUIC_FRAME_MALFORMED;
            break;
        }
        if (type == 0x00) { /* PADDING: runs of zero bytes */
            bits |= FP_QUIC_FRAME_PADDING;
            while (fp_cur_has(&c, 1) && fp_peek_u8(&c, 0) == 0) c.ptr++;
            continue;
        }
        if (type == 0x01) {
            bits |= FP_QUIC_FRAME_PING;
            continue;
        }
        if (type == 0x02 || type == 0x03) { /* ACK: largest, delay, range count, first range */
            int bad = get_varint(&c, &a) < 0 || get_varint(&c, &a) < 0 ||
                      get_varint(&c, &count) < 0 || get_varint(&c, &a) < 0;
            /* Each further range is two varints (>= 2 bytes): a lying count runs out of bytes. */
            for (uint64_t i = 0; !bad && i < count; i++)
                bad = get_varint(&c, &a) < 0 || get_varint(&c, &b) < 0;
            if (!bad && type == 0x03) /* ECT0, ECT1, ECN-CE counts */
                bad = get_varint(&c, &a) < 0 || get_varint(&c, &a) < 0 || get_varint(&c, &a) < 0;
            if (bad) {
                bits |= FP_QUIC_FRAME_MALFORMED;
                break;
            }
            bits |= FP_QUIC_FRAME_ACK;
            continue;
        }
        if (type == 0x06) { /* CRYPTO: offset, length, data */
            if (get_varint(&c, &a) < 0 || get_varint(&c, &b) < 0 || b > fp_cur_left(&c) ||
                b > UINT32_MAX || a + b > VARINT_MAX) {
                bits |= FP_QUIC_FRAME_MALFORMED;
                break;
            }
            if (n < max_frags && frags) {
                frags[n].offset = a;
                frags[n].length = (uint32_t)b;
                frags[n].data = c.ptr;
                frags[n].packet = packet;
            }
            n++;
            c.ptr += b;
            bits |= FP_QUIC_FRAME_CRYPTO;
            continue;
        }
        if (type == 0x1c || type == 0x1d) { /* CONNECTION_CLOSE: code, [frame type], reason */
            uint64_t code, ftype = 0;
            if (get_varint(&c, &code) < 0 || (type == 0x1c && get_varint(&c, &ftype) < 0) ||
                get_varint(&c, &b) < 0 || b > fp_cur_left(&c)) {
                bits |= FP_QUIC_FRAME_MALFORMED;
                break;
            }
            c.ptr += b;
            if (!(bits & FP_QUIC_FRAME_CLOSE)) {
                if (close_error) *close_error = code;
                if (close_frame_type) *close_frame_type = ftype;
            }
            bits |= FP_QUIC_FRAME_CLOSE;
            continue;
        }
        bits |= FP_QUIC_FRAME_UNKNOWN; /* not allowed in Initial packets (RFC 9000 12.4) */
        break;
    }
    if (found) *found = n;
    return bits;
}

/* ---- Packet protection ----------------------------------------------------------- */
typedef struct {
    EVP_CIPHER_CTX *ecb, *gcm;
    int attempts;      /* open_initial calls in this datagram (<= FP_QUIC_MAX_DECRYPTS) */
    int tried_own_dcid; /* the re-derivation fallback runs at most once per datagram */
} crypto_ctx;

static int hp_mask(crypto_ctx *cx, const uint8_t hp[16], const uint8_t *sample, uint8_t mask[16])
{
    int outl = 0;
    if (cx->ecb == NULL && (cx->ecb = EVP_CIPHER_CTX_new()) == NULL) return -1;
    if (EVP_EncryptInit_ex(cx->ecb, EVP_aes_128_ecb(), NULL, hp, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(cx->ecb, 0) != 1 ||
        EVP_EncryptUpdate(cx->ecb, mask, &outl, sample, HP_SAMPLE) != 1 || outl != HP_SAMPLE)
        return -1;
    return 0;
}

/* 1 authenticated, 0 tag mismatch, -1 OpenSSL error. */
static int aead_open(crypto_ctx *cx, const uint8_t key[16], const uint8_t nonce[12],
                     const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                     const uint8_t *tag_in, uint8_t *out)
{
    uint8_t tag[AEAD_TAG];
    int outl = 0, finl = 0;
    if (cx->gcm == NULL && (cx->gcm = EVP_CIPHER_CTX_new()) == NULL) return -1;
    memcpy(tag, tag_in, AEAD_TAG);
    if (EVP_DecryptInit_ex(cx->gcm, EVP_aes_128_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(cx->gcm, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
        EVP_DecryptInit_ex(cx->gcm, NULL, NULL, key, nonce) != 1 ||
        EVP_DecryptUpdate(cx->gcm, NULL, &outl, aad, (int)aad_len) != 1)
        return -1;
    if (ct_len && EVP_DecryptUpdate(cx->gcm, out, &outl, ct, (int)ct_len) != 1) return -1;
    if (EVP_CIPHER_CTX_ctrl(cx->gcm, EVP_CTRL_GCM_SET_TAG, AEAD_TAG, tag) != 1) return -1;
    return EVP_DecryptFinal_ex(cx->gcm, out + outl, &finl) > 0 ? 1 : 0;
}

/* RFC 9000 Appendix A.3: the packet number closest to largest + 1. */
static uint64_t decode_pn(int64_t largest, uint64_t truncated, int bits)
{
    uint64_t expected = (uint64_t)(largest + 1);
    uint64_t win = UINT64_C(1) << bits, hwin = win / 2, mask = win - 1;
    uint64_t cand = (expected & ~mask) | truncated;
    if (cand + hwin <= expected && cand < (UINT64_C(1) << 62) - win) return cand + win;
    if (cand > expected + hwin && cand >= win) return cand - win;
    return cand;
}

/* One Initial: p[0..size) is the packet, pn_off where the packet number starts. */
typedef struct {
    const uint8_t *p;
    uint32_t size, pn_off;
} initial_view;

/* Remove header protection and open the payload with one direction's keys. Writes the
 * unprotected header then the plaintext at `out`. Returns an fp_quic_status. */
static int open_initial(crypto_ctx *cx, const fp_quic_dir_keys *k, int64_t largest,
                        const initial_view *v, uint8_t *out, fp_quic_packet *pk)
{
    uint8_t mask[16], nonce[12];
    if (cx->attempts >= FP_QUIC_MAX_DECRYPTS) return FP_QUIC_LIMIT;
    cx->attempts++;
    if (hp_mask(cx, k->hp, v->p + v->pn_off + 4, mask) < 0) return FP_QUIC_CRYPTO_ERROR;
    uint8_t first = (uint8_t)(v->p[0] ^ (mask[0] & 0x0f));
    uint32_t pn_len = (uint32_t)(first & 0x03) + 1;
    uint32_t hlen = v->pn_off + pn_len;
    memcpy(out, v->p, hlen);
    out[0] = first;
    uint64_t truncated = 0;
    for (uint32_t i = 0; i < pn_len; i++) {
        out[v->pn_off + i] ^= mask[1 + i];
        truncated = (truncated << 8) | out[v->pn_off + i];
    }
    uint64_t pn = decode_pn(largest, truncated, (int)(pn_len * 8));
    memcpy(nonce, k->iv, 12);
    for (int i = 0; i < 8; i++) nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
    size_t ct_len = v->size - hlen - AEAD_TAG; /* size >= pn_off + 20 was checked */
    int r = aead_open(cx, k->key, nonce, out, hlen, v->p + hlen, ct_len,
                      v->p + v->size - AEAD_TAG, out + hlen);
    if (r < 0) return FP_QUIC_CRYPTO_ERROR;
    if (r == 0) return FP_QUIC_AUTH_FAILED;
    pk->pn_len = (uint8_t)pn_len;
    pk->pn = pn;
    pk->header_len = hlen;
    pk->header = out;
    pk->payload = out + hlen;
    pk->payload_len = (uint32_t)ct_len;
    return FP_QUIC_OK;
}

/* Map the long-header type bits to a packet type for a supported version. */
static fp_quic_packet_type long_type(uint32_t version, uint8_t first)
{
    unsigned bits = (first >> 4) & 3;
    if (version == FP_QUIC_VERSION_2) { /* RFC 9369 3.2: Retry 0, Initial 1, 0-RTT 2, Handshake 3 */
        static const fp_quic_packet_type v2[4] = {FP_QUIC_PKT_RETRY, FP_QUIC_PKT_INITIAL,
                                                  FP_QUIC_PKT_0RTT, FP_QUIC_PKT_HANDSHAKE};
        return v2[bits];
    }
    static const fp_quic_packet_type v1[4] = {FP_QUIC_PKT_INITIAL, FP_QUIC_PKT_0RTT,
                                              FP_QUIC_PKT_HANDSHAKE, FP_QUIC_PKT_RETRY};
    return v1[bits];
}

static int all_zero(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* Decrypt one Initial with the cache's keys (seeding / rekeying it as documented). */
static int decrypt_initial(crypto_ctx *cx, fp_quic_keys_cache *cache, int from_client,
                           const initial_view *v, uint8_t *out, fp_quic_packet *pk,
                           uint32_t *flags)
{
    int dir = from_client ? 0 : 1;
    if (from_client) {
        if (!cache->have_dcid) {
            fp_quic_cache_set_dcid(cache, pk->dcid, pk->dcid_len);
        } else if (cache->have_retry &&
                   cid_equal(pk->dcid, pk->dcid_len, cache->retry_scid, cache->retry_scid_len) &&
                   !cid_equal(pk->dcid, pk->dcid_len, cache->dcid, cache->dcid_len)) {
            fp_quic_cache_set_dcid(cache, pk->dcid, pk->dcid_len); /* RFC 9001 5.2 after Retry */
            cache->have_retry = 0;
            *flags |= FP_QUIC_F_REKEYED;
        }
    } else if (!cache->have_dcid) {
        return FP_QUIC_NO_KEYS;
    }
    const fp_quic_initial_keys *keys = fp_quic_cache_keys(cache, pk->version);
    if (keys == NULL) return FP_QUIC_CRYPTO_ERROR;
    int st = open_initial(cx, from_client ? &keys->client : &keys->server, cache->largest_pn[dir],
                          v, out, pk);
    if (st == FP_QUIC_AUTH_FAILED && from_client && !cx->tried_own_dcid &&
        cx->attempts < FP_QUIC_MAX_DECRYPTS &&
        !cid_equal(pk->dcid, pk->dcid_len, cache->dcid, cache->dcid_len)) {
        /* A new connection on the same ports (or a capture that missed the first Initial):
         * try the packet's own DCID, once per datagram. */
        fp_quic_initial_keys fresh;
        cx->tried_own_dcid = 1;
        if (fp_quic_derive_initial_keys(pk->version, pk->dcid, pk->dcid_len, &fresh) < 0)
            return FP_QUIC_CRYPTO_ERROR;
        int st2 = open_initial(cx, &fresh.client, -1, v, out, pk);
        if (st2 == FP_QUIC_OK) {
            fp_quic_cache_set_dcid(cache, pk->dcid, pk->dcid_len);
            int s = version_slot(pk->version);
            cache->slot[s] = fresh;
            cache->slot_valid[s] = 1;
            cache->largest_pn[0] = cache->largest_pn[1] = -1;
            cache->have_retry = 0;
            *flags |= FP_QUIC_F_REKEYED;
        }
        if (st2 != FP_QUIC_LIMIT) st = st2;
    }
    if (st == FP_QUIC_OK && (int64_t)pk->pn > cache->largest_pn[dir])
        cache->largest_pn[dir] = (int64_t)pk->pn;
    return st;
}

/* Parse one long-header packet at v->p (the rest of the datagram is `left` bytes).
 * Fills pk; returns the bytes it occupies (the rest when it cannot be delimited). */
static uint32_t parse_long(const uint8_t *p, uint32_t left, fp_quic_packet *pk, uint32_t *pn_off,
                           uint32_t *flags)
{
    fp_cursor c = fp_cursor_make(p, left);
    uint8_t first, dlen, slen;
    uint32_t version;
    uint64_t token_len = 0, length;
    pk->status = FP_QUIC_TRUNCATED;
    pk->size = left;
    if (fp_get_u8(&c, &first) < 0 || fp_get_be32(&c, &version) < 0) goto truncated;
    pk->version = version;
    pk->type = version == 0                           ? FP_QUIC_PKT_VERSION_NEG
               : fp_quic_version_supported(version) ? (uint8_t)long_type(version, first)
                                                      : FP_QUIC_PKT_UNKNOWN_VERSION;
    /* Invariants (RFC 8999 5.1): DCID and SCID with 8-bit lengths, in every version. */
    if (fp_get_u8(&c, &dlen) < 0 || !fp_cur_has(&c, dlen)) goto truncated;
    pk->dcid_len = dlen > FP_QUIC_MAX_CID ? FP_QUIC_MAX_CID : dlen;
    memcpy(pk->dcid, c.ptr, pk->dcid_len);
    c.ptr += dlen;
    if (fp_get_u8(&c, &slen) < 0 || !fp_cur_has(&c, slen)) goto truncated;
    pk->scid_len = slen > FP_QUIC_MAX_CID ? FP_QUIC_MAX_CID : slen;
    memcpy(pk->scid, c.ptr, pk->scid_len);
    c.ptr += slen;
    if (pk->type == FP_QUIC_PKT_VERSION_NEG) {
        pk->status = FP_QUIC_SKIPPED;
        *flags |= FP_QUIC_F_VERSION_NEG;
        return left;
    }
    if (pk->type == FP_QUIC_PKT_UNKNOWN_VERSION) {
        pk->status = FP_QUIC_SKIPPED;
        *flags |= FP_QUIC_F_UNSUPPORTED_VERSION;
        return left;
    }
    if (dlen > FP_QUIC_MAX_CID || slen > FP_QUIC_MAX_CID) {
        pk->status = FP_QUIC_BAD_HEADER;
        *flags |= FP_QUIC_F_CID_TOO_LONG;
        return left;
    }
    if (!(first & 0x40)) *flags |= FP_QUIC_F_FIXED_BIT_CLEAR;
    if (pk->type == FP_QUIC_PKT_RETRY) { /* token and integrity tag fill the datagram */
        pk->status = FP_QUIC_SKIPPED;
        *flags |= FP_QUIC_F_RETRY;
        return left;
    }
    if (pk->type == FP_QUIC_PKT_INITIAL) {
        if (get_varint(&c, &token_len) < 0 || token_len > fp_cur_left(&c)) goto truncated;
        pk->token_off = fp_cur_off(&c);
        pk->token_len = (uint32_t)token_len;
        c.ptr += token_len;
    }
    if (get_varint(&c, &length) < 0 || length > fp_cur_left(&c)) goto truncated;
    *pn_off = fp_cur_off(&c);
    pk->size = *pn_off + (uint32_t)length;
    pk->status = FP_QUIC_SKIPPED;
    return pk->size;
truncated:
    *flags |= FP_QUIC_F_TRUNCATED;
    return left;
}

int fp_quic_decrypt_datagram(const uint8_t *udp_payload, uint32_t len, int from_client,
                             fp_quic_keys_cache *cache, uint8_t *scratch, size_t scratch_len,
                             fp_quic_crypto_frag *frags, int max_frags, fp_quic_info *info)
{
    crypto_ctx cx = {NULL, NULL, 0, 0};
    size_t spos = 0;
    uint32_t off = 0;
    int nfrags = 0;
    uint8_t first_dcid[FP_QUIC_MAX_CID], first_dcid_len = 0;
    int have_first = 0;
    memset(info, 0, sizeof *info);
    if (max_frags < 0 || frags == NULL) max_frags = 0;
    if (len == 0 || udp_payload == NULL) {
        info->flags |= FP_QUIC_F_EMPTY;
        return 0;
    }
    while (off < len) {
        const uint8_t *p = udp_payload + off;
        uint32_t left = len - off;
        fp_quic_packet spare, *pk;
        int idx = info->packet_count;
        if (!(p[0] & 0x80) && idx > 0 && all_zero(p, left)) { /* datagram padding */
            info->trailing = left;
            info->flags |= FP_QUIC_F_TRAILING;
            break;
        }
        if (idx < FP_QUIC_MAX_PACKETS) {
            pk = &info->packets[idx];
        } else {
            pk = &spare;
            info->flags |= FP_QUIC_F_MANY_PACKETS;
        }
        memset(pk, 0, sizeof *pk);
        pk->offset = off;
        info->packet_count++;
        if (!(p[0] & 0x80)) { /* short header: DCID length unknown here, runs to the end */
            pk->type = FP_QUIC_PKT_SHORT;
            pk->status = FP_QUIC_SKIPPED;
            pk->size = left;
            info->flags |= FP_QUIC_F_SHORT_HEADER;
            break;
        }
        uint32_t pn_off = 0;
        uint32_t size = parse_long(p, left, pk, &pn_off, &info->flags);
        if (pk->type == FP_QUIC_PKT_RETRY && pk->status == FP_QUIC_SKIPPED && !from_client) {
            cache->have_retry = 1;
            cache->retry_scid_len = pk->scid_len;
            memcpy(cache->retry_scid, pk->scid, pk->scid_len);
        }
        if (pk->status == FP_QUIC_SKIPPED && pk->type != FP_QUIC_PKT_VERSION_NEG &&
            pk->type != FP_QUIC_PKT_UNKNOWN_VERSION) {
            if (!have_first) {
                have_first = 1;
                first_dcid_len = pk->dcid_len;
                memcpy(first_dcid, pk->dcid, pk->dcid_len);
            } else if (!cid_equal(first_dcid, first_dcid_len, pk->dcid, pk->dcid_len)) {
                info->flags |= FP_QUIC_F_DCID_MISMATCH; /* RFC 9000 12.2 */
            }
        }
        if (pk->type == FP_QUIC_PKT_INITIAL && pk->status == FP_QUIC_SKIPPED) {
            initial_view v = {p, size, pn_off};
            info->initial_count++;
            if (size < pn_off + 4 + HP_SAMPLE) {
                pk->status = FP_QUIC_TOO_SHORT;
                info->flags |= FP_QUIC_F_TOO_SHORT;
            } else if (scratch == NULL || spos > scratch_len || scratch_len - spos < size) {
                pk->status = FP_QUIC_NO_SCRATCH;
            } else {
                pk->status = (uint8_t)decrypt_initial(&cx, cache, from_client, &v, scratch + spos,
                                                      pk, &info->flags);
            }
            if (pk->status == FP_QUIC_OK) {
                int found = 0;
                uint8_t pidx = idx > 255 ? 255 : (uint8_t)idx;
                info->decrypted_count++;
                if (pk->header[0] & 0x0c) info->flags |= FP_QUIC_F_RESERVED_BITS;
                pk->frames = fp_quic_parse_frames(pk->payload, pk->payload_len, pidx,
                                                  frags ? frags + nfrags : NULL,
                                                  max_frags - nfrags, &found, &pk->close_error,
                                                  &pk->close_frame_type);
                info->frag_count += found;
                if (found > max_frags - nfrags) {
                    info->frags_dropped += found - (max_frags - nfrags);
                    info->flags |= FP_QUIC_F_FRAGS_FULL;
                    nfrags = max_frags;
                } else {
                    nfrags += found;
                }
                if (pk->frames & FP_QUIC_FRAME_UNKNOWN) info->flags |= FP_QUIC_F_UNKNOWN_FRAME;
                if (pk->frames & FP_QUIC_FRAME_MALFORMED) info->flags |= FP_QUIC_F_FRAME_MALFORMED;
                spos += pk->header_len + pk->payload_len;
            } else if (pk->status == FP_QUIC_AUTH_FAILED) {
                info->flags |= FP_QUIC_F_AUTH_FAILED;
            } else if (pk->status == FP_QUIC_NO_KEYS) {
                info->flags |= FP_QUIC_F_NO_KEYS;
            } else if (pk->status == FP_QUIC_LIMIT) {
                info->flags |= FP_QUIC_F_DECRYPT_LIMIT;
            }
            if (pk->status != FP_QUIC_OK) pk->pn_len = 0;
        }
        off += size;
    }
    EVP_CIPHER_CTX_free(cx.ecb);
    EVP_CIPHER_CTX_free(cx.gcm);
    return nfrags;
}

/* ---- CRYPTO stream reassembly ------------------------------------------------------ */
void fp_quic_crypto_init(fp_quic_crypto_stream *s, uint8_t *buf, uint32_t cap)
{
    memset(s, 0, sizeof *s);
    s->buf = buf;
    s->cap = buf ? cap : 0;
}

uint32_t fp_quic_crypto_add(fp_quic_crypto_stream *s, uint64_t offset, const uint8_t *data,
                            uint32_t len)
{
    if (len == 0 || data == NULL) return s->contiguous;
    if (offset < s->base) { /* a copy of consumed bytes: only what lies past them counts */
        if (offset + len <= s->base) return s->contiguous;
        data += s->base - offset;
        len -= (uint32_t)(s->base - offset);
        offset = s->base;
    }
    offset -= s->base;
    if (offset >= s->cap) {
        s->bytes_over_cap += len;
        return s->contiguous;
    }
    uint32_t o = (uint32_t)offset;
    uint64_t end64 = offset + len;
    uint32_t e = end64 > s->cap ? s->cap : (uint32_t)end64;
    s->bytes_over_cap += end64 - e;
    /* Ranges overlapping or touching [o, e) are merged into one. */
    uint32_t first = 0, touched = 0;
    while (first < s->range_count && s->ranges[first].end < o) first++;
    while (first + touched < s->range_count && s->ranges[first + touched].start <= e) touched++;
    if (touched == 0 && s->range_count == FP_QUIC_CRYPTO_MAX_RANGES) {
        s->ranges_dropped++;
        return s->contiguous;
    }
    uint32_t pos = o;
    for (uint32_t i = first; i < first + touched && pos < e; i++) {
        const fp_quic_range *r = &s->ranges[i];
        if (r->end <= pos) continue;
        if (r->start > pos) {
            uint32_t gap_end = r->start < e ? r->start : e;
            memcpy(s->buf + pos, data + (pos - o), gap_end - pos);
            pos = gap_end;
        }
        uint32_t ov_end = r->end < e ? r->end : e;
        for (; pos < ov_end; pos++) /* first data wins; differing copies are counted */
            if (s->buf[pos] != data[pos - o]) s->inconsistent_bytes++;
    }
    if (pos < e) memcpy(s->buf + pos, data + (pos - o), e - pos);
    if (touched == 0) {
        memmove(&s->ranges[first + 1], &s->ranges[first],
                (s->range_count - first) * sizeof s->ranges[0]);
        s->ranges[first].start = o;
        s->ranges[first].end = e;
        s->range_count++;
    } else {
        uint32_t last = first + touched - 1;
        uint32_t ns = s->ranges[first].start < o ? s->ranges[first].start : o;
        uint32_t ne = s->ranges[last].end > e ? s->ranges[last].end : e;
        s->ranges[first].start = ns;
        s->ranges[first].end = ne;
        memmove(&s->ranges[first + 1], &s->ranges[last + 1],
                (s->range_count - last - 1) * sizeof s->ranges[0]);
        s->range_count -= touched - 1;
    }
    s->contiguous = s->range_count && s->ranges[0].start == 0 ? s->ranges[0].end : 0;
    return s->contiguous;
}

uint32_t fp_quic_crypto_message_len(const fp_quic_crypto_stream *s, uint8_t *type)
{
    if (s->contiguous < 4) return 0;
    uint32_t total = 4 + (((uint32_t)s->buf[1] << 16) | ((uint32_t)s->buf[2] << 8) | s->buf[3]);
    if (total > s->contiguous) return 0;
    if (type) *type = s->buf[0];
    return total;
}

void fp_quic_crypto_consume(fp_quic_crypto_stream *s, uint32_t n)
{
    if (n > s->contiguous) n = s->contiguous;
    if (n == 0) return;
    uint32_t held = s->ranges[s->range_count - 1].end; /* contiguous > 0: a range exists */
    memmove(s->buf, s->buf + n, held - n);
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->range_count; i++) {
        if (s->ranges[i].end <= n) continue;
        s->ranges[k].start = s->ranges[i].start > n ? s->ranges[i].start - n : 0;
        s->ranges[k].end = s->ranges[i].end - n;
        k++;
    }
    s->range_count = k;
    s->base += n;
    s->contiguous = k && s->ranges[0].start == 0 ? s->ranges[0].end : 0;
}

int fp_quic_feed(fp_quic_keys_cache *cache, fp_quic_crypto_stream streams[2],
                 const uint8_t *udp_payload, uint32_t len, int from_client, uint8_t *scratch,
                 size_t scratch_len, fp_quic_info *info)
{
    fp_quic_crypto_frag frags[FP_QUIC_FEED_FRAGS];
    int n = fp_quic_decrypt_datagram(udp_payload, len, from_client, cache, scratch, scratch_len,
                                     frags, FP_QUIC_FEED_FRAGS, info);
    fp_quic_crypto_stream *s = &streams[from_client ? 0 : 1];
    for (int i = 0; i < n; i++) fp_quic_crypto_add(s, frags[i].offset, frags[i].data, frags[i].length);
    return n;
}

/* ---- Fields (Wireshark's quic: long headers, one datagram) ---------------- */

/* Wireshark's QUIC heuristic on UDP (any port): a long header of version 1, 2 (or its
 * draft 0x709a50c4) or draft-11 and later, connection ID lengths of at most 20. */
int fp_quic_heuristic(const uint8_t *p, uint32_t len)
{
    if (len < 13 || !(p[0] & 0x80))
        return 0;
    uint32_t v = fp_load_be32(p + 1);
    int known = v == FP_QUIC_VERSION_1 || v == FP_QUIC_VERSION_2 || v == 0x709a50c4u ||
                ((v >> 8) == 0xff0000u && (v & 0xff) >= 11);
    return known && p[5] <= FP_QUIC_MAX_CID && 6u + p[5] < len && p[6 + p[5]] <= FP_QUIC_MAX_CID;
}

enum { Q_TYPE, Q_VERSION, Q_DCID, Q_SCID };

/* The value of field `which` in one parsed long header: 1 with *v filled, else 0. */
/* `hdr`: the packet's first byte in the record, whose invariant header the parse read whole;
 * the CIDs point there (values point into the record: a visitor may keep one past the walk). */
static int quic_long_value(int which, const uint8_t *hdr, const fp_quic_packet *pk, fp_field_value *v)
{
    switch (which) {
    case Q_TYPE: /* version 2 packet types are another field (quic.long.packet_type_v2) */
        v->u = (hdr[0] >> 4) & 3;
        return pk->version != 0 && pk->version != FP_QUIC_VERSION_2 && pk->version != 0x709a50c4u;
    case Q_VERSION: v->u = pk->version; return 1;
    case Q_DCID: v->p = hdr + 6; v->len = pk->dcid_len; return v->len > 0; /* as tshark: */
    case Q_SCID: v->p = hdr + 7 + hdr[5]; v->len = pk->scid_len; return v->len > 0; /* none if empty */
    default: return 0;
    }
}

/* Each long-header packet of the UDP payload (coalesced ones with the first's DCID, as
 * Wireshark takes them: RFC 9000 12.2), read by the parser the hello engine uses. */
static int quic_long_field(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    const fp_dissection *d = x->d;
    if (!FP_HAS(d, FP_L_UDP) || FP_HAS(d, FP_L_DNS) || d->is_fragment)
        return 0;
    const fp_span *u = &d->layer[FP_L_UDP];
    const uint8_t *p = x->data + u->off + u->hlen;
    uint32_t len = u->end - u->off - u->hlen, off = 0, flags = 0, pn_off;
    if (!fp_quic_heuristic(p, len))
        return 0;
    int n = 0;
    uint8_t dcid[FP_QUIC_MAX_CID], dcid_len = 0;
    while (off < len && (p[off] & 0x80)) {
        fp_quic_packet pk;
        memset(&pk, 0, sizeof pk);
        uint32_t size = parse_long(p + off, len - off, &pk, &pn_off, &flags);
        if (pk.status == FP_QUIC_TRUNCATED)
            break;
        if (off == 0) {
            dcid_len = pk.dcid_len;
            memcpy(dcid, pk.dcid, dcid_len);
        } else if (!cid_equal(pk.dcid, pk.dcid_len, dcid, dcid_len)) {
            break;
        }
        fp_field_value v = {0, NULL, 0};
        if (quic_long_value(f->arg, p + off, &pk, &v)) {
            n++;
            if (visit(arg, &v))
                break;
        }
        off += size;
    }
    return n;
}

#define QUIC_FIELD(name, type, bits, which) {name, type, bits, FP_L_UDP, which, 0, 0, quic_long_field}
static const fp_field quic_fields[] = {
    QUIC_FIELD("quic.long.packet_type", FP_FT_UINT, 8, Q_TYPE),
    QUIC_FIELD("quic.version", FP_FT_UINT, 32, Q_VERSION),
    QUIC_FIELD("quic.dcid", FP_FT_BYTES, 0, Q_DCID),
    QUIC_FIELD("quic.scid", FP_FT_BYTES, 0, Q_SCID),
};
FP_FIELD_TABLE(fp_fields_quic, "quic", quic_fields);
