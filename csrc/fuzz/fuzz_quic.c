/* libFuzzer harness for csrc/dissect/quic.c (QUIC Initial decryption, frames, CRYPTO
 * reassembly).
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icsrc \
 *         csrc/fuzz/fuzz_quic.c (every .c of csrc/dissect, as make fuzz) -lcrypto
 * Input: [mode][rest]. mode bit 0 = 0: raw datagrams, [len hi|dir bit 7][len lo][bytes]...,
 * fed through one key cache and two small CRYPTO collectors, invariants checked after each.
 * mode bit 0 = 1: protect mode, an oracle: [dcid len][dcid][pn len/version bits][pn bytes]
 * [frames...] is made into a valid Initial (AES-128-GCM + header protection done here with
 * OpenSSL), which must then decrypt to exactly the frames and packet number, so the frame
 * parser and the collectors run on authenticated plaintext. Each datagram is copied into
 * an exact-size heap buffer so ASan sees any overread. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dissect/quic.h"

#define COLLECT_CAP 2048

static void check_stream(const fp_quic_crypto_stream *s)
{
    uint32_t prev_end = 0;
    if (s->range_count > FP_QUIC_CRYPTO_MAX_RANGES) abort();
    for (uint32_t i = 0; i < s->range_count; i++) {
        const fp_quic_range *r = &s->ranges[i];
        if (r->start >= r->end || r->end > s->cap) abort();
        if (i > 0 && r->start <= prev_end) abort(); /* sorted, disjoint, not touching */
        prev_end = r->end;
    }
    uint32_t want = s->range_count && s->ranges[0].start == 0 ? s->ranges[0].end : 0;
    if (s->contiguous != want) abort();
    uint8_t type;
    uint32_t m = fp_quic_crypto_message_len(s, &type);
    if (m > s->contiguous || (m && m < 4)) abort();
}

static void check_info(const fp_quic_info *info, int nfrags, uint32_t len, const uint8_t *scratch,
                       size_t scratch_len)
{
    if (info->decrypted_count > info->initial_count || info->initial_count > info->packet_count)
        abort();
    if (info->trailing > len || nfrags < 0 || nfrags > FP_QUIC_FEED_FRAGS) abort();
    int shown = info->packet_count < FP_QUIC_MAX_PACKETS ? info->packet_count : FP_QUIC_MAX_PACKETS;
    uint32_t covered = 0;
    for (int i = 0; i < shown; i++) {
        const fp_quic_packet *pk = &info->packets[i];
        if (pk->type >= FP_QUIC_PKT_COUNT || pk->status >= FP_QUIC_STATUS_COUNT) abort();
        if (pk->offset != covered || pk->size == 0 || pk->size > len - pk->offset) abort();
        if (pk->dcid_len > FP_QUIC_MAX_CID || pk->scid_len > FP_QUIC_MAX_CID) abort();
        if (pk->token_len && (pk->token_off > pk->size || pk->token_len > pk->size - pk->token_off))
            abort();
        if (pk->status == FP_QUIC_OK) {
            if (pk->pn_len < 1 || pk->pn_len > 4) abort();
            if (pk->header < scratch || pk->payload != pk->header + pk->header_len) abort();
            if ((size_t)(pk->payload + pk->payload_len - scratch) > scratch_len) abort();
            if (pk->header_len + pk->payload_len + 16 != pk->size) abort();
        }
        covered = pk->offset + pk->size;
    }
    if (info->packet_count <= FP_QUIC_MAX_PACKETS && covered + info->trailing != len) abort();
}

static void feed_raw(const uint8_t *data, size_t size)
{
    fp_quic_keys_cache cache;
    fp_quic_crypto_stream streams[2];
    static uint8_t cbuf[2][COLLECT_CAP];
    fp_quic_info info;
    fp_quic_cache_init(&cache);
    fp_quic_crypto_init(&streams[0], cbuf[0], COLLECT_CAP);
    fp_quic_crypto_init(&streams[1], cbuf[1], COLLECT_CAP);
    while (size >= 2) {
        int from_client = !(data[0] & 0x80);
        size_t n = ((size_t)(data[0] & 0x7f) << 8) | data[1];
        data += 2;
        size -= 2;
        if (n > size) n = size;
        uint8_t *dgram = malloc(n ? n : 1), *scratch = malloc(n ? n : 1);
        if (dgram == NULL || scratch == NULL) abort();
        memcpy(dgram, data, n);
        int k = fp_quic_feed(&cache, streams, dgram, (uint32_t)n, from_client, scratch, n, &info);
        check_info(&info, k, (uint32_t)n, scratch, n);
        check_stream(&streams[0]);
        check_stream(&streams[1]);
        free(dgram);
        free(scratch);
        data += n;
        size -= n;
    }
}

/* AES-128-GCM seal: out = ciphertext || tag. */
static int seal(const uint8_t key[16], const uint8_t nonce[12], const uint8_t *aad, int aad_len,
                const uint8_t *pt, int pt_len, uint8_t *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int outl = 0, ok = c != NULL;
    ok = ok && EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, nonce) == 1;
    ok = ok && EVP_EncryptUpdate(c, NULL, &outl, aad, aad_len) == 1;
    ok = ok && (pt_len == 0 || EVP_EncryptUpdate(c, out, &outl, pt, pt_len) == 1);
    ok = ok && EVP_EncryptFinal_ex(c, out + pt_len, &outl) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + pt_len) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

static int ecb(const uint8_t hp[16], const uint8_t in[16], uint8_t out[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int outl = 0, ok = c != NULL;
    ok = ok && EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, hp, NULL) == 1;
    ok = ok && EVP_CIPHER_CTX_set_padding(c, 0) == 1;
    ok = ok && EVP_EncryptUpdate(c, out, &outl, in, 16) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

static void protect_and_check(const uint8_t *data, size_t size)
{
    if (size < 2) return;
    size_t dlen = data[0] % (FP_QUIC_MAX_CID + 1);
    if (size < 2 + dlen) return;
    const uint8_t *dcid = data + 1;
    uint8_t bits = data[1 + dlen];
    int from_client = !(bits & 0x10);
    uint32_t version = (bits & 0x20) ? FP_QUIC_VERSION_2 : FP_QUIC_VERSION_1;
    size_t pn_len = (size_t)(bits & 3) + 1;
    data += 2 + dlen;
    size -= 2 + dlen;
    if (size < pn_len) return;
    uint64_t pn = 0;
    for (size_t i = 0; i < pn_len; i++) pn = (pn << 8) | data[i];
    data += pn_len;
    size -= pn_len;
    if (size > 1400) size = 1400;
    size_t pt_len = size + pn_len < 4 ? 4 - pn_len : size; /* room for the HP sample */

    fp_quic_initial_keys keys;
    if (fp_quic_derive_initial_keys(version, dcid, dlen, &keys) < 0) abort();
    const fp_quic_dir_keys *k = from_client ? &keys.client : &keys.server;
    uint8_t *pt = calloc(1, pt_len + 1);
    size_t hcap = 1 + 4 + 1 + FP_QUIC_MAX_CID + 1 + 1 + 2 + 4;
    size_t total = hcap + pt_len + 16;
    uint8_t *pkt = malloc(total);
    if (pt == NULL || pkt == NULL) abort();
    memcpy(pt, data, size);
    size_t h = 0;
    unsigned type_bits = version == FP_QUIC_VERSION_2 ? 1 : 0;
    pkt[h++] = (uint8_t)(0xc0 | (type_bits << 4) | (pn_len - 1));
    pkt[h++] = (uint8_t)(version >> 24);
    pkt[h++] = (uint8_t)(version >> 16);
    pkt[h++] = (uint8_t)(version >> 8);
    pkt[h++] = (uint8_t)version;
    /* server packets carry the client's SCID as DCID: use an empty one, keys from `dcid` */
    pkt[h++] = from_client ? (uint8_t)dlen : 0;
    if (from_client) {
        memcpy(pkt + h, dcid, dlen);
        h += dlen;
    }
    pkt[h++] = 0; /* SCID length */
    pkt[h++] = 0; /* token length */
    size_t length = pn_len + pt_len + 16;
    pkt[h++] = (uint8_t)(0x40 | (length >> 8));
    pkt[h++] = (uint8_t)length;
    size_t pn_off = h;
    for (size_t i = 0; i < pn_len; i++) pkt[h++] = (uint8_t)(pn >> (8 * (pn_len - 1 - i)));
    uint8_t nonce[12], mask[16];
    memcpy(nonce, k->iv, 12);
    for (int i = 0; i < 8; i++) nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
    if (seal(k->key, nonce, pkt, (int)h, pt, (int)pt_len, pkt + h) < 0) abort();
    size_t len = h + pt_len + 16;
    if (ecb(k->hp, pkt + pn_off + 4, mask) < 0) abort();
    pkt[0] ^= mask[0] & 0x0f;
    for (size_t i = 0; i < pn_len; i++) pkt[pn_off + i] ^= mask[1 + i];

    uint8_t *dgram = malloc(len), *scratch = malloc(len);
    if (dgram == NULL || scratch == NULL) abort();
    memcpy(dgram, pkt, len);
    fp_quic_keys_cache cache;
    fp_quic_cache_init(&cache);
    if (!from_client && fp_quic_cache_set_dcid(&cache, dcid, dlen) < 0) abort();
    fp_quic_crypto_frag frags[64];
    fp_quic_info info;
    int n = fp_quic_decrypt_datagram(dgram, (uint32_t)len, from_client, &cache, scratch, len,
                                     frags, 64, &info);
    check_info(&info, n, (uint32_t)len, scratch, len);
    const fp_quic_packet *p = &info.packets[0];
    if (info.packet_count != 1 || p->status != FP_QUIC_OK || p->pn != pn) abort();
    if (p->payload_len != pt_len || memcmp(p->payload, pt, pt_len) != 0) abort();
    int found = 0;
    fp_quic_parse_frames(pt, pt_len, 0, NULL, 0, &found, NULL, NULL);
    if (found != info.frag_count || n != (found < 64 ? found : 64)) abort();
    static uint8_t cbuf[COLLECT_CAP];
    fp_quic_crypto_stream s;
    fp_quic_crypto_init(&s, cbuf, COLLECT_CAP);
    for (int i = 0; i < n; i++) {
        const fp_quic_crypto_frag *f = &frags[i];
        if (f->data < p->payload || f->data + f->length > p->payload + p->payload_len) abort();
        fp_quic_crypto_add(&s, f->offset, f->data, f->length);
        check_stream(&s);
    }
    /* Any single-bit flip in the protected part must fail authentication, never crash. */
    dgram[len - 1 - (pt_len % 16)] ^= 0x01;
    fp_quic_cache_init(&cache);
    if (!from_client) fp_quic_cache_set_dcid(&cache, dcid, dlen);
    fp_quic_decrypt_datagram(dgram, (uint32_t)len, from_client, &cache, scratch, len, frags, 64, &info);
    if (info.packets[0].status != FP_QUIC_AUTH_FAILED) abort();
    free(pt);
    free(pkt);
    free(dgram);
    free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] & 1)
        protect_and_check(data + 1, size - 1);
    else
        feed_raw(data + 1, size - 1);
    return 0;
}
