/* libFuzzer harness for csrc/flow: fuzz bytes -> a sequence of records (link type,
 * time step, bytes) -> dissect -> flow table with tiny timeouts and limits, so every
 * expiry path, eviction, the fragment table and the TCP state machine are exercised;
 * with bit 2 of the first byte the TLS/QUIC hello search rides on the table (reassembly,
 * record assembly, QUIC decryption, hello parsing and fingerprints at emission); with
 * bit 3 IP fragments go through the reassembler first (policy from bits 4-5, a small
 * memory cap) and completed datagrams are dissected and added whole, as the engines do;
 * with bit 6 tunnels are decoded (flows key on the inner packet and the tunnel id).
 * Every record the shard key pass keys (fp_flow_key_pass) must be a plain TCP/UDP packet of
 * its dissection with the shard of its dissected key, for one- and two-way keys.
 * Checks the table's bookkeeping after the final flush.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icsrc \
 *         csrc/fuzz/fuzz_flow.c csrc/flow/(all).c csrc/dissect/(all but test_*).c \
 *         csrc/stream/tcp_reassembly.c csrc/stream/hello_tracker.c -lm -lcrypto */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "flow/ip_defrag.h"
#include "stream/hello_tracker.h"

static const uint32_t linktypes[] = {FP_LINKTYPE_ETHERNET, FP_LINKTYPE_RAW, FP_LINKTYPE_IPV4, FP_LINKTYPE_IPV6};

typedef struct {
    uint64_t emitted;
    fp_hello_tracker *hellos;
} sink;

static char done_marker;
#define DONE ((void *)&done_marker)

static void on_packet(void *ctx, fp_flow *f, const fp_flow_packet *p, int forward)
{
    sink *s = ctx;
    if (f->tcp && (f->tcp->dir[0].holes > FP_FLOW_SEQ_HOLES || f->tcp->dir[1].holes > FP_FLOW_SEQ_HOLES ||
                   f->tcp->dir[0].z_blocks > FP_FLOW_SEQ_HOLES || f->tcp->dir[1].z_blocks > FP_FLOW_SEQ_HOLES))
        abort();
    if (f->ext == DONE) return;
    fp_hello_conn *c = f->ext;
    int rc = fp_hello_packet(s->hellos, &c, p, forward);
    f->ext = c ? (void *)c : rc < 0 ? DONE : NULL;
}

static void ext_free(void *ctx, void *ext)
{
    if (ext != DONE) fp_hello_conn_free(((sink *)ctx)->hellos, ext);
}

static void on_emit(void *ctx, fp_flow *f)
{
    sink *s = ctx;
    s->emitted++;
    if (f->ext && f->ext != DONE) { /* fingerprint what was found, as the bridge does */
        fp_hello_conn *c = f->ext;
        fp_hello_finish(s->hellos, c);
        fp_hello_view v;
        if (fp_hello_view_make(c, &v) == 0) {
            if (strlen(v.ja4) >= FP_JA4_SIZE) abort();
            fp_hello_view_free(&v);
        }
    }
    if (f->dir[0].packets + f->dir[1].packets == 0) abort();
    if (memchr(f->history, 0, sizeof f->history) == NULL) abort();
    if (f->expiration >= FP_EXP_COUNT || fp_flow_conn_state(f) >= FP_CS_COUNT) abort();
    if (f->last_ns < f->first_ns || f->tcp != NULL) abort(); /* the table keeps its TCP state */
}

/* The key pass answers only where the dissection finds the same plain TCP/UDP key. */
static void check_key_pass(const uint8_t *rec, uint32_t len, uint32_t lt, int flags, const fp_dissection *d)
{
    for (uint32_t shards = 2; shards <= 7; shards += 5) {
        int quick = fp_flow_key_pass(rec, len, lt, flags, shards);
        if (quick < 0) continue;
        if (quick >= (int)shards || d->is_fragment || d->tunnel_count || !(FP_HAS(d, FP_L_TCP) || FP_HAS(d, FP_L_UDP)))
            abort();
        for (int bidirectional = 0; bidirectional < 2; bidirectional++) {
            fp_flow_packet p;
            if (fp_flow_packet_from(&p, rec, d, 0, len, bidirectional) < 0 || !p.key.has_ports ||
                fp_flow_shard(&p.key, shards) != (uint32_t)quick)
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    fp_flow_config cfg = {0};
    cfg.bidirectional = data[0] & 1;
    cfg.idle_timeout_ns = (int64_t)(data[1] % 8 + 1) * 1000;
    cfg.active_timeout_ns = (int64_t)(data[2] % 16 + 1) * 1000;
    cfg.close_grace_ns = 500;
    cfg.max_flows = (uint64_t)(data[3] % 8) + 1;
    cfg.max_memory = (data[0] & 2) ? 4096 * 16 : 0;
    fp_budget budget = {0};
    cfg.budget = &budget;
    sink s = {0};
    fp_hello_tracker hellos;
    fp_flow_table *t = fp_flow_table_new(&cfg, on_emit, &s);
    if (t == NULL) return 0;
    if ((data[0] & 4) && fp_hello_tracker_init(&hellos, &budget) == 0) {
        s.hellos = &hellos;
        fp_flow_table_set_extension(t, on_packet, ext_free);
    }
    fp_defrag *df = NULL;
    if (data[0] & 8) {
        fp_defrag_config dc = {(fp_defrag_policy)((data[0] >> 4) & 3), 4000, 1u << 14};
        df = fp_defrag_new(&dc, &budget);
    }
    size_t pos = 4;
    int64_t ts = 0;
    fp_dissection d;
    while (pos + 3 <= size) { /* record: [link][step][len] then len bytes */
        uint32_t lt = linktypes[data[pos] % 4];
        ts += (int64_t)(data[pos + 1] % 16) * 250 - 500; /* sometimes backwards */
        size_t len = data[pos + 2];
        pos += 3;
        if (len > size - pos) len = size - pos;
        uint8_t *rec = malloc(len ? len : 1); /* exact-size copy: ASan sees overreads */
        if (rec == NULL) break;
        memcpy(rec, data + pos, len);
        fp_dissect_ex(rec, (uint32_t)len, (uint32_t)len + (data[pos - 3] >> 7), lt,
                      (data[0] & 0x40) ? FP_DISSECT_NO_TUNNELS : 0, &d);
        check_key_pass(rec, (uint32_t)len, lt, (data[0] & 0x40) ? FP_DISSECT_NO_TUNNELS : 0, &d);
        fp_defrag_result res;
        int drc = df ? fp_defrag_add(df, rec, (uint32_t)len, &d, ts, pos, &res) : FP_DEFRAG_PASS;
        if (drc == FP_DEFRAG_COMPLETE) {
            uint8_t *whole = malloc(res.len); /* exact size again */
            if (whole == NULL) abort();
            memcpy(whole, res.data, res.len);
            fp_dissect_datagram(whole, res.len, lt, 0, &d);
            if (d.is_fragment || res.nframes == 0) abort();
            fp_flow_table_add(t, whole, &d, ts, res.len);
            free(whole);
        } else if (drc == FP_DEFRAG_PASS) {
            fp_flow_table_add(t, rec, &d, ts, (uint32_t)len);
        }
        free(rec);
        pos += len;
        if (fp_flow_table_count(t) > cfg.max_flows) abort();
    }
    fp_flow_table_flush(t);
    fp_defrag_free(df);
    const fp_flow_stats *st = fp_flow_table_stats(t);
    uint64_t expired = 0;
    for (int i = 0; i < FP_EXP_COUNT; i++) expired += st->expired[i];
    if (fp_flow_table_count(t) != 0 || expired != st->flows_created || s.emitted != expired) abort();
    fp_flow_table_free(t);
    if (s.hellos) {
        if (hellos.sh.stats.buffered || hellos.sh.stats.stored) abort(); /* search state all freed */
        fp_hello_tracker_free(&hellos);
    }
    /* every byte charged was credited back */
    if (budget.total != 0 || budget.peak < budget.peak_bytes[FP_MEM_FLOWS]) abort();
    for (int i = 0; i < FP_MEM_COUNT; i++)
        if (budget.bytes[i] != 0) abort();
    return 0;
}
