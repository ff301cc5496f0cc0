/* libFuzzer harness for csrc/stream/tcp_reassembly: fuzz bytes -> a sequence of TCP
 * segments (direction, flags, sequence offset, length) on one connection with tiny caps.
 * Payload bytes are a function of their sequence number, so every delivered byte can be
 * checked against the place it claims to come from (no misplaced or invented bytes), no
 * overlap can ever be "inconsistent", offsets must advance exactly by data plus gaps, and
 * all buffer accounting must return to zero.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icsrc \
 *         csrc/fuzz/fuzz_stream.c csrc/stream/tcp_reassembly.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream/tcp_reassembly.h"

static uint8_t byte_at(uint32_t seq) { return (uint8_t)((seq * 2654435761u) >> 24); }

typedef struct {
    fp_reasm *r;
    uint64_t next[2]; /* expected offset of the next chunk, per direction */
    int seen[2];
} check;

static void sink(void *ctx, void *user, int dir, uint64_t offset, uint64_t gap, const uint8_t *data, uint32_t len)
{
    check *c = ctx;
    (void)user;
    if (c->seen[dir] && offset != c->next[dir] + gap) abort();
    c->seen[dir] = 1;
    c->next[dir] = offset + len;
    uint32_t first = c->r->dir[dir].isn + 1 + (uint32_t)offset;
    for (uint32_t i = 0; i < len; i++)
        if (data[i] != byte_at(first + i)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8) return 0;
    fp_reasm_shared sh;
    memset(&sh, 0, sizeof sh);
    sh.cfg.store = data[0] & 1;
    sh.cfg.depth = (data[0] & 2) ? (uint64_t)data[1] * 16 : 0;
    sh.cfg.max_buffered = (uint64_t)data[2] * 8;
    sh.cfg.max_buffered_total = (uint64_t)data[3] * 16;
    uint32_t base[2];
    memcpy(&base[0], data + 4, 4);
    base[1] = base[0] ^ 0x5a5a5a5au;
    fp_reasm r;
    memset(&r, 0, sizeof r);
    check c = {.r = &r};
    sh.sink = sink;
    sh.sink_ctx = &c;
    fp_budget budget = {0};
    sh.budget = &budget;
    uint8_t payload[512];
    for (size_t i = 8; i + 4 <= size; i += 4) {
        int dir = data[i] & 1;
        uint8_t flags = data[i + 1] & (FP_TH_FIN | FP_TH_SYN | FP_TH_RST | FP_TH_ACK);
        uint32_t seq = base[dir] + (uint32_t)(int16_t)(data[i + 2] | (data[i] & 0xfe) << 7);
        uint32_t len = data[i + 3] % 200;
        uint32_t ack = base[!dir] + data[i + 3];
        uint32_t first = seq + ((flags & FP_TH_SYN) ? 1 : 0); /* data follows a SYN */
        for (uint32_t k = 0; k < len; k++) payload[k] = byte_at(first + k);
        fp_reasm_segment(&sh, &r, dir, seq, ack, flags, payload, len);
        if (sh.stats.buffered > sh.cfg.max_buffered_total + 200 + 32 &&
            sh.stats.buffered > (uint64_t)r.dir[0].buffered + r.dir[1].buffered)
            abort();
    }
    fp_reasm_finish(&sh, &r);
    if (sh.stats.inconsistent_bytes) abort();
    for (int d = 0; d < 2; d++) {
        const fp_reasm_dir *rd = &r.dir[d];
        if (rd->segs || rd->buffered) abort();
        if (sh.cfg.store && !(r.anomalies & FP_REASM_OOM) && rd->len != rd->delivered) abort();
        if (sh.cfg.depth && rd->delivered > sh.cfg.depth) abort();
        uint64_t g = 0;
        for (uint32_t k = 0; k < rd->ngaps; k++) {
            if (rd->gap_list[k].offset > rd->len || (k && rd->gap_list[k].offset < rd->gap_list[k - 1].offset)) abort();
            g += rd->gap_list[k].length;
        }
        if (g > rd->gap_bytes) abort();
        if (sh.cfg.store && rd->len) {
            if (rd->cap < rd->len || (sh.cfg.depth && rd->cap > sh.cfg.depth)) abort();
            uint8_t *stored = malloc(rd->len);
            if (stored == NULL) abort();
            fp_reasm_copy_stored(rd, stored);
            for (uint64_t k = 0, gi = 0, off = 0; k < rd->len; k++, off++) { /* stored bytes in place */
                while (gi < rd->ngaps && rd->gap_list[gi].offset == k) off += rd->gap_list[gi++].length;
                if (stored[k] != byte_at(rd->isn + 1 + (uint32_t)off)) abort();
            }
            free(stored);
        }
    }
    fp_reasm_release(&sh, &r);
    if (sh.stats.buffered || sh.stats.stored || budget.total) abort();
    return 0;
}
