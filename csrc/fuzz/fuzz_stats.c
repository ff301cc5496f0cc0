/* libFuzzer harness for csrc/stats: fuzz bytes -> a sequence of records (link type, time
 * step, bytes) -> dissect -> fp_stats_add with io,stat columns filtered by display filters
 * and a small memory budget, so table growth, the budget's refusals, the hierarchy and the
 * DNS/HTTP trees all run, and the reading inside tunnels. Checks that every packet's outer
 * headers are either in a table or counted in its cut (inner ones within their bound), that
 * the budget is never passed and that freeing credits every byte back.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icsrc \
 *         csrc/fuzz/fuzz_stats.c csrc/stats/stats.c csrc/filter/(*.c) csrc/dissect/(*.c) \
 *         -lpcre2-8 -lcrypto
 * Input: [interval][max_intervals][budget][unused], then records [link][step][len] bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats/stats.h"

static const uint32_t linktypes[] = {
    FP_LINKTYPE_ETHERNET, FP_LINKTYPE_LINUX_SLL, FP_LINKTYPE_LINUX_SLL2, FP_LINKTYPE_RAW,
    FP_LINKTYPE_IPV4,     FP_LINKTYPE_IPV6,      FP_LINKTYPE_NULL,       FP_LINKTYPE_LOOP,
    FP_LINKTYPE_PPP,      FP_LINKTYPE_PPP_HDLC,  FP_LINKTYPE_PPP_ETHER,  FP_LINKTYPE_PPP_WITH_DIR,
};
#define NLINKTYPES (sizeof linktypes / sizeof linktypes[0])

static const char *const filter_text[] = {"dns", "tcp.port == 80 || http", "frame.len > 100 && !ip.flags.mf"};
#define NFILTERS (sizeof filter_text / sizeof filter_text[0])
static const fp_filter *filters[NFILTERS];

static uint64_t conv_frames(const fp_conv_table *t)
{
    uint64_t n = t->cut_frames;
    for (size_t i = 0; i < t->n; i++) n += t->rows[i].frames_ab + t->rows[i].frames_ba;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    if (filters[0] == NULL) /* compiled once, kept for the process */
        for (size_t i = 0; i < NFILTERS; i++) {
            fp_filter_error err;
            if ((filters[i] = fp_filter_compile(filter_text[i], &err)) == NULL) abort();
        }
    fp_budget budget = {0};
    fp_stats_config cfg = {(int64_t)(data[0] % 8) * 1000, (uint64_t)(data[1] % 64) + 1, filters, NFILTERS,
                           &budget};
    fp_stats *st = fp_stats_new(&cfg);
    if (st == NULL) return 0;
    uint64_t base = budget.total; /* the fixed tables: the limit leaves room for a few rows */
    budget.limit = data[2] ? base + (uint64_t)data[2] * 512 : 0;
    uint64_t in_conv[FP_CONV_LAYERS] = {0};
    size_t pos = 4;
    int64_t ts = 0;
    uint64_t number = 0;
    fp_dissection d;
    while (pos + 3 <= size) {
        uint32_t lt = linktypes[data[pos] % NLINKTYPES];
        ts += (int64_t)(data[pos + 1] % 16) * 250 - 500; /* sometimes backwards */
        size_t len = data[pos + 2];
        pos += 3;
        if (len > size - pos) len = size - pos;
        uint8_t *rec = malloc(len ? len : 1); /* exact-size copy: ASan sees overreads */
        if (rec == NULL) break;
        memcpy(rec, data + pos, len);
        /* tunnels off, as fp.stats' reader dissects: stats.c reads inside them itself */
        fp_dissect_ex(rec, (uint32_t)len, (uint32_t)len + (data[pos - 3] >> 7), lt, FP_DISSECT_NO_TUNNELS, &d);
        fp_stats_add(st, rec, (uint32_t)len, (uint32_t)len, lt, ts, 1, ++number, &d);
        /* the outer layers a conversation table sees (stats.c conv_packet) */
        if (FP_HAS(&d, FP_L_ETH) && d.layer[FP_L_ETH].hlen >= 14) in_conv[FP_CONV_ETH]++;
        int ip = FP_HAS(&d, FP_L_IP4) ? FP_CONV_IP : FP_HAS(&d, FP_L_IP6) ? FP_CONV_IPV6 : -1;
        if (ip >= 0) {
            in_conv[ip]++;
            if (FP_HAS(&d, FP_L_TCP)) in_conv[FP_CONV_TCP]++;
            else if (FP_HAS(&d, FP_L_UDP)) in_conv[FP_CONV_UDP]++;
        }
        free(rec);
        pos += len;
        if (budget.limit && budget.total > budget.limit) abort();
    }
    if (st->frames != number || st->phs[0].frames != number) abort();
    /* each outer header once; each level inside a tunnel (FP_MAX_TUNNELS) and a PPPoE
     * session's packet add at most one a frame */
    for (int l = 0; l < FP_CONV_LAYERS; l++) {
        uint64_t n = conv_frames(&st->conv[l]);
        if (n < in_conv[l] || n > in_conv[l] + (FP_MAX_TUNNELS + 1) * number) abort();
    }
    for (uint16_t i = 1; i < st->phs_n; i++)
        if (st->phs[i].frames > st->phs[st->phs[i].parent].frames) abort();
    if (cfg.interval_ns > 0) {
        uint64_t in_io = st->io_cut;
        for (size_t i = 0; i < st->io_n; i++) in_io += st->io_frames[i * (1 + NFILTERS)];
        if (in_io != number || st->io_n > cfg.max_intervals) abort();
    }
    fp_stats_free(st);
    if (budget.total != 0) abort();
    return 0;
}
