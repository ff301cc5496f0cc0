/* libFuzzer harness for csrc/flow: fuzz bytes -> a sequence of records (link type,
 * time step, bytes) -> dissect -> flow table with tiny timeouts and memcaps, so every
 * expiry path, eviction, the fragment table and the TCP state machine are exercised.
 * Checks the table's bookkeeping after the final flush.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icsrc \
 *         csrc/fuzz/fuzz_flow.c csrc/flow/(all).c csrc/dissect/(all but test_*).c -lm */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"

static const uint32_t linktypes[] = {FP_LINKTYPE_ETHERNET, FP_LINKTYPE_RAW, FP_LINKTYPE_IPV4, FP_LINKTYPE_IPV6};

typedef struct {
    uint64_t emitted;
} sink;

static void on_emit(void *ctx, fp_flow *f)
{
    sink *s = ctx;
    s->emitted++;
    if (f->dir[0].packets + f->dir[1].packets == 0) abort();
    if (f->history_len > FP_FLOW_HISTORY_MAX || f->history[f->history_len] != 0) abort();
    if (f->expiration >= FP_EXP_COUNT || fp_flow_conn_state(f) >= FP_CS_COUNT) abort();
    if (f->last_ns < f->first_ns) abort();
    for (int d = 0; d < 2; d++)
        if (f->dir[d].holes > FP_FLOW_SEQ_HOLES) abort();
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
    sink s = {0};
    fp_flow_table *t = fp_flow_table_new(&cfg, on_emit, &s);
    if (t == NULL) return 0;
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
        fp_dissect(rec, (uint32_t)len, (uint32_t)len + (data[pos - 3] >> 7), lt, &d);
        fp_flow_table_add(t, rec, &d, ts, (uint32_t)len);
        free(rec);
        pos += len;
        if (fp_flow_table_count(t) > cfg.max_flows) abort();
    }
    fp_flow_table_flush(t);
    const fp_flow_stats *st = fp_flow_table_stats(t);
    uint64_t expired = 0;
    for (int i = 0; i < FP_EXP_COUNT; i++) expired += st->expired[i];
    if (fp_flow_table_count(t) != 0 || expired != st->flows_created || s.emitted != expired) abort();
    fp_flow_table_free(t);
    return 0;
}
