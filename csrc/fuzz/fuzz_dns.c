/* libFuzzer harness for csrc/stream/dns_tracker.c: fuzz bytes -> DNS messages on a few
 * UDP and TCP port-53 connections (the harness writes the IPv4/UDP/TCP headers, the fuzz
 * bytes are the payloads, so every record reaches the tracker) -> flow table -> pairing,
 * TCP framing over reassembly (sequence numbers jump, segments overlap), timeouts, the
 * per-connection cap and, with a small max_memory, evictions. Each closed transaction's
 * answers are read back as the bridge does. Checks that every byte charged is credited.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icsrc \
 *         csrc/fuzz/fuzz_dns.c csrc/flow/(all).c csrc/dissect/(all).c \
 *         csrc/stream/tcp_reassembly.c csrc/stream/dns_tracker.c -lm -lcrypto */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "stream/dns_tracker.h"

typedef struct {
    fp_dns_tracker dns;
    uint64_t txns;
} sink;

static char done_marker;
#define DONE ((void *)&done_marker)

/* What the bridge does with a closed transaction: read its answer section, then free it. */
static void on_txn(void *ctx, fp_dns_txn *x)
{
    sink *s = ctx;
    s->txns++;
    if (x->kind != FP_DNS_KIND_TXN || (x->resp == NULL && x->responses && !(x->anomalies & FP_DNS_TXN_A(ALLOC_FAILED))))
        abort();
    fp_dns_iter it;
    fp_dns_record rec;
    char text[4 * 1024 + 2 * FP_DNS_NAME_MAX + 64];
    if (x->resp && fp_dns_iter_init(&it, x->resp, x->resp_len) == 0)
        while (fp_dns_iter_next(&it, &rec) == 1)
            if (rec.section == FP_DNS_AN && rec.rdlength <= 1024) fp_dns_rdata_text(x->resp, x->resp_len, &rec, text, sizeof text);
    fp_dns_txn_hold(&s->dns, x);
    fp_dns_txn_free(&s->dns, x);
}

static void on_packet(void *ctx, fp_flow *f, const fp_flow_packet *p, int forward)
{
    sink *s = ctx;
    if (f->ext == DONE) return;
    if (f->ext == NULL && !fp_dns_wants(p)) {
        f->ext = DONE;
        return;
    }
    fp_dns_packet(&s->dns, &f->ext, f, p, forward);
    if (f->ext == NULL) f->ext = DONE;
}

static void on_emit(void *ctx, fp_flow *f)
{
    sink *s = ctx;
    if (f->ext && f->ext != DONE && f->ext != FP_DNS_IDLE) fp_dns_conn_end(&s->dns, f->ext, f, f->expiration == FP_EXP_EVICTED);
    f->ext = NULL;
}

static void on_tick(void *ctx, int64_t now_ns) { fp_dns_tick(&((sink *)ctx)->dns, now_ns); }

static void ext_free(void *ctx, void *ext)
{
    if (ext != DONE && ext != FP_DNS_IDLE) fp_dns_conn_free(&((sink *)ctx)->dns, ext);
}

/* An IPv4 header without options (the checksum is not checked on the way in). */
static void ip_header(uint8_t *ip, uint16_t total)
{
    ip[0] = 0x45;
    ip[2] = (uint8_t)(total >> 8);
    ip[3] = (uint8_t)total;
    ip[8] = 64;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    fp_flow_config cfg = {0};
    cfg.bidirectional = 1;
    cfg.no_hints = 1; /* as fp.dns: core records */
    cfg.idle_timeout_ns = (int64_t)(data[0] % 8 + 1) * 1000;
    cfg.close_grace_ns = 500;
    cfg.max_flows = (uint64_t)(data[1] % 4) + 1;
    cfg.max_memory = (data[0] & 0x80) ? 4096 * 8 : 0;
    fp_budget budget = {0};
    cfg.budget = &budget;
    sink s = {0};
    fp_dns_tracker_init(&s.dns, &budget, (int64_t)(data[1] >> 2) * 100 + 1, on_txn, &s);
    fp_flow_table *t = fp_flow_table_new(&cfg, on_emit, &s);
    if (t == NULL) return 0;
    fp_flow_table_set_extension(t, on_packet, ext_free);
    fp_flow_table_set_tick(t, on_tick);
    uint32_t seq[2] = {1000, 5000};
    size_t pos = 2;
    int64_t ts = 0;
    fp_dissection d;
    /* record: [flags][len] then len payload bytes. flags: bit 0 TCP, bit 1 server -> client,
     * bits 2-3 client port, bit 4 SYN, bit 5 FIN, bit 6 skip ahead (a hole), bit 7 back up */
    while (pos + 2 <= size) {
        uint8_t fl = data[pos];
        size_t len = data[pos + 1];
        pos += 2;
        if (len > size - pos) len = size - pos;
        int tcp = fl & 1, back = (fl >> 1) & 1;
        uint16_t cport = (uint16_t)(40000 + ((fl >> 2) & 3)), hl = tcp ? 20 : 8;
        uint16_t total = (uint16_t)(20 + hl + len);
        uint8_t *rec = calloc(1, total); /* exact size: ASan sees overreads */
        if (rec == NULL) break;
        ip_header(rec, total);
        rec[9] = tcp ? 6 : 17;
        uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 53};
        memcpy(rec + 12, back ? b : a, 4);
        memcpy(rec + 16, back ? a : b, 4);
        uint8_t *l4 = rec + 20;
        uint16_t sp = back ? 53 : cport, dp = back ? cport : 53;
        l4[0] = (uint8_t)(sp >> 8), l4[1] = (uint8_t)sp, l4[2] = (uint8_t)(dp >> 8), l4[3] = (uint8_t)dp;
        if (tcp) {
            uint32_t *sq = &seq[back];
            if (fl & 0x40) *sq += len * 2;
            if (fl & 0x80) *sq -= (uint32_t)len;
            for (int i = 0; i < 4; i++) l4[4 + i] = (uint8_t)(*sq >> (24 - 8 * i));
            l4[12] = 0x50;
            l4[13] = (uint8_t)(0x10 | ((fl & 0x10) ? 0x02 : 0) | ((fl & 0x20) ? 0x01 : 0) | (len ? 0x08 : 0));
            *sq += (uint32_t)len + ((fl & 0x30) ? 1 : 0);
        } else {
            l4[4] = (uint8_t)((8 + len) >> 8), l4[5] = (uint8_t)(8 + len);
        }
        memcpy(l4 + hl, data + pos, len);
        pos += len;
        ts += 37;
        fp_dissect_ex(rec, total, total, FP_LINKTYPE_RAW, 0, &d);
        fp_flow_table_add(t, rec, &d, ts, total);
        free(rec);
    }
    fp_flow_table_flush(t);
    fp_flow_table_free(t);
    const fp_dns_stats *st = &s.dns.stats;
    if (st->transactions != s.txns || st->answered + st->unanswered + st->response_only != s.txns) abort();
    if (s.dns.sh.stats.buffered) abort();
    if (budget.total != 0) abort(); /* every byte charged was credited back */
    for (int i = 0; i < FP_MEM_COUNT; i++)
        if (budget.bytes[i] != 0) abort();
    return 0;
}
