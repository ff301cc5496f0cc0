/* TCP reassembly (policy in tcp_reassembly.h). Out-of-order data waits in a sorted list
 * of non-overlapping segments; a new segment only fills what the list does not already
 * hold (first data wins), comparing the bytes it overlaps. In-order data with nothing
 * waiting goes straight to the store/sink without a copy into the list. */
#include "tcp_reassembly.h"

#include <stdlib.h>
#include <string.h>

struct fp_reasm_seg {
    fp_reasm_seg *next;
    uint32_t seq, len;
    uint8_t data[];
};

/* A list entry costs its bytes plus this, so floods of tiny segments meet the caps early. */
#define SEG_OVERHEAD 32u
/* Segments per direction: bounds the sorted insert's walk on hostile orderings. */
#define MAX_SEGS 4096u
/* A segment starting further than this past the next expected byte is not this stream's. */
#define WINDOW_LIMIT (1u << 30)

#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)

const char *const fp_reasm_anomaly_names[FP_REASM_ANOM_COUNT_BITS] = {
    "stream_midstream",    "stream_overlap_inconsistent", "stream_depth_cut", "stream_buffer_cut",
    "stream_data_after_fin", "stream_out_of_window",      "stream_acked_unseen", "stream_oom",
};

/* ---- store mode ----------------------------------------------------------- */

struct fp_reasm_block {
    fp_reasm_block *next;
    uint32_t len, cap;
    uint8_t data[];
};

/* Largest block: past it a stream grows by blocks of this size. */
#define BLOCK_MAX (1u << 20)

/* Append `len` bytes to the stored data, all or none (a failed allocation keeps nothing, as
 * for a segment lost). The tail block is filled first; a new block is as large as what is
 * stored already (at least 64 bytes and what does not fit, at most 1 MiB or what `depth`
 * leaves), so a one-byte stream holds tens of bytes, not pages, and blocks stay few. */
static int store_append(fp_reasm_shared *sh, fp_reasm_dir *d, const uint8_t *p, uint32_t len)
{
    fp_reasm_block *b = d->last;
    uint32_t room = b ? b->cap - b->len : 0;
    uint32_t rest = len > room ? len - room : 0;
    fp_reasm_block *n = NULL;
    if (rest) {
        uint64_t size = d->cap < 64 ? 64 : d->cap < BLOCK_MAX ? d->cap : BLOCK_MAX;
        if (sh->cfg.depth && size > sh->cfg.depth - d->cap) size = sh->cfg.depth - d->cap;
        if (size < rest) size = rest;
        n = fp_budget_malloc(sh->budget, FP_MEM_STREAM_DATA, sizeof *n + size);
        if (n == NULL) return -1;
        n->next = NULL;
        n->cap = (uint32_t)size;
        sh->stats.stored += size;
        d->cap += size;
    }
    uint32_t first = len - rest;
    if (first) {
        memcpy(b->data + b->len, p, first);
        b->len += first;
    }
    if (n) {
        memcpy(n->data, p + first, rest);
        n->len = rest;
        if (b) b->next = n;
        else d->blocks = n;
        d->last = n;
    }
    d->len += len;
    return 0;
}

static void store_gap(fp_reasm_shared *sh, fp_reasm *r, fp_reasm_dir *d, uint64_t gap)
{
    if (d->ngaps && d->gap_list[d->ngaps - 1].offset == d->len) { /* adjacent holes: one gap */
        d->gap_list[d->ngaps - 1].length += gap;
        return;
    }
    if (d->ngaps == d->gaps_cap) {
        uint32_t cap = d->gaps_cap ? d->gaps_cap * 2 : 4;
        fp_reasm_gap *g = fp_budget_realloc(sh->budget, FP_MEM_STREAM_DATA, d->gap_list, cap * sizeof *g);
        if (g == NULL) {
            r->anomalies |= FP_REASM_OOM;
            sh->stats.oom++;
            return;
        }
        d->gap_list = g;
        d->gaps_cap = cap;
    }
    d->gap_list[d->ngaps].offset = d->len;
    d->gap_list[d->ngaps].length = gap;
    d->ngaps++;
}

/* ---- delivery -------------------------------------------------------------- */

/* Hand over `gap` missing bytes then `len` bytes at next_seq, and advance past them. */
static void deliver(fp_reasm_shared *sh, fp_reasm *r, int di, uint32_t gap, const uint8_t *p, uint32_t len)
{
    fp_reasm_dir *d = &r->dir[di];
    uint64_t depth = sh->cfg.depth;
    int open = !depth || d->delivered < depth;
    if (gap) {
        d->gap_bytes += gap;
        sh->stats.gap_bytes += gap;
        sh->stats.gaps++;
        if (open && sh->cfg.store) store_gap(sh, r, d, gap);
        d->offset += gap;
        d->next_seq += gap;
        d->contig_off = d->offset;
        d->contig_idx = d->len;
    }
    uint32_t keep = len;
    if (depth && d->delivered + len > depth) {
        keep = open ? (uint32_t)(depth - d->delivered) : 0;
        r->anomalies |= FP_REASM_DEPTH_CUT;
        sh->stats.depth_cut_bytes += len - keep;
    }
    if (keep && sh->cfg.store && store_append(sh, d, p, keep) != 0) {
        r->anomalies |= FP_REASM_OOM;
        sh->stats.oom++;
    }
    if ((keep || (gap && open)) && sh->sink) sh->sink(sh->sink_ctx, r->user, di, d->offset, gap, p, keep);
    d->delivered += keep;
    sh->stats.delivered += keep;
    d->offset += len;
    d->next_seq += len;
}

static void seg_free(fp_reasm_shared *sh, fp_reasm_dir *d, fp_reasm_seg *s)
{
    d->buffered -= s->len + SEG_OVERHEAD;
    sh->stats.buffered -= s->len + SEG_OVERHEAD;
    d->nsegs--;
    fp_budget_free(sh->budget, FP_MEM_REASSEMBLY, s);
}

static fp_reasm_seg *pop_head(fp_reasm_dir *d)
{
    fp_reasm_seg *s = d->segs;
    d->segs = s->next;
    if (d->segs == NULL) d->tail = NULL;
    return s;
}

/* Deliver waiting segments that now continue the stream. */
static void drain(fp_reasm_shared *sh, fp_reasm *r, int di)
{
    fp_reasm_dir *d = &r->dir[di];
    while (d->segs && d->segs->seq == d->next_seq) {
        fp_reasm_seg *s = pop_head(d);
        deliver(sh, r, di, 0, s->data, s->len);
        seg_free(sh, d, s);
    }
}

/* Give up on the bytes below `upto` (at most up to the first waiting segment). */
static void skip_to(fp_reasm_shared *sh, fp_reasm *r, int di, uint32_t upto)
{
    fp_reasm_dir *d = &r->dir[di];
    if (d->segs && SEQ_GT(upto, d->segs->seq)) upto = d->segs->seq;
    if (SEQ_GT(upto, d->next_seq)) deliver(sh, r, di, upto - d->next_seq, NULL, 0);
    drain(sh, r, di);
}

/* ---- overlaps ---------------------------------------------------------------- */

static void compare(fp_reasm_shared *sh, fp_reasm *r, const uint8_t *a, const uint8_t *b, uint32_t n)
{
    if (memcmp(a, b, n) == 0) return;
    uint32_t diff = 0;
    for (uint32_t i = 0; i < n; i++) diff += a[i] != b[i];
    sh->stats.inconsistent_bytes += diff;
    r->anomalies |= FP_REASM_INCONSISTENT;
}

/* Data below next_seq seen again: compare with the stored copy when it is still held. */
static void seen_again(fp_reasm_shared *sh, fp_reasm *r, int di, uint32_t seq, const uint8_t *p, uint32_t len)
{
    fp_reasm_dir *d = &r->dir[di];
    sh->stats.retransmitted_bytes += len;
    if (!sh->cfg.store) return;
    uint64_t back = (uint32_t)(d->next_seq - seq);
    if (back > d->offset) return; /* before the stream's start (a midstream pick-up) */
    uint64_t off = d->offset - back; /* stream offset of seq */
    if (off < d->contig_off) return;    /* before the last gap: not addressable simply */
    uint64_t idx = d->contig_idx + (off - d->contig_off);
    if (idx >= d->len) return;
    uint64_t n = d->len - idx < len ? d->len - idx : len;
    const fp_reasm_block *b = d->blocks;
    for (; idx >= b->len; b = b->next) idx -= b->len;
    while (n) { /* the stored copy may run over several blocks */
        uint32_t k = b->len - (uint32_t)idx < n ? b->len - (uint32_t)idx : (uint32_t)n;
        compare(sh, r, b->data + idx, p, k);
        p += k;
        n -= k;
        idx = 0;
        b = b->next;
    }
}

static fp_reasm_seg *seg_new(fp_reasm_shared *sh, fp_reasm *r, fp_reasm_dir *d, uint32_t seq,
                             const uint8_t *p, uint32_t len)
{
    fp_reasm_seg *s = fp_budget_malloc(sh->budget, FP_MEM_REASSEMBLY, sizeof *s + len);
    if (s == NULL) {
        r->anomalies |= FP_REASM_OOM;
        sh->stats.oom++;
        return NULL;
    }
    s->seq = seq;
    s->len = len;
    memcpy(s->data, p, len);
    d->buffered += len + SEG_OVERHEAD;
    sh->stats.buffered += len + SEG_OVERHEAD;
    if (sh->stats.buffered > sh->stats.buffered_peak) sh->stats.buffered_peak = sh->stats.buffered;
    d->nsegs++;
    return s;
}

/* Add [seq, seq+len) to the waiting list, keeping only the parts it does not hold yet. */
static void insert(fp_reasm_shared *sh, fp_reasm *r, fp_reasm_dir *d, uint32_t seq, const uint8_t *p, uint32_t len)
{
    uint32_t cur = seq, end = seq + len;
    fp_reasm_seg **pp = &d->segs;
    if (d->tail && SEQ_LEQ(d->tail->seq + d->tail->len, seq)) pp = &d->tail->next; /* common: appends */
    while (SEQ_LT(cur, end)) {
        fp_reasm_seg *s = *pp;
        if (s == NULL || SEQ_LEQ(end, s->seq)) { /* the rest fits before s */
            fp_reasm_seg *n = seg_new(sh, r, d, cur, p + (cur - seq), end - cur);
            if (n == NULL) return;
            n->next = s;
            *pp = n;
            if (s == NULL) d->tail = n;
            return;
        }
        uint32_t s_end = s->seq + s->len;
        if (SEQ_LEQ(s_end, cur)) {
            pp = &s->next;
            continue;
        }
        if (SEQ_LT(cur, s->seq)) { /* the part before s */
            fp_reasm_seg *n = seg_new(sh, r, d, cur, p + (cur - seq), s->seq - cur);
            if (n == NULL) return;
            n->next = s;
            *pp = n;
            cur = s->seq;
        }
        uint32_t oe = SEQ_LT(end, s_end) ? end : s_end; /* overlap with s: s wins */
        sh->stats.retransmitted_bytes += oe - cur;
        compare(sh, r, s->data + (cur - s->seq), p + (cur - seq), oe - cur);
        cur = oe;
        pp = &s->next;
    }
}

/* Skip holes while the buffer caps are exceeded or the peer acknowledged past them. */
static void enforce(fp_reasm_shared *sh, fp_reasm *r, int di)
{
    fp_reasm_dir *d = &r->dir[di];
    while (d->segs) {
        if (d->has_ack && SEQ_GT(d->peer_ack, d->next_seq)) {
            r->anomalies |= FP_REASM_ACKED_UNSEEN;
            skip_to(sh, r, di, d->peer_ack);
            if (d->segs && d->segs->seq != d->next_seq) break; /* the rest of the hole may come */
            continue;
        }
        if (d->buffered <= sh->cfg.max_buffered && d->nsegs <= MAX_SEGS &&
            sh->stats.buffered <= sh->cfg.max_buffered_total)
            break;
        r->anomalies |= FP_REASM_BUFFER_CUT;
        sh->stats.forced_gaps++;
        skip_to(sh, r, di, d->segs->seq);
    }
}

static void check_fin(fp_reasm_dir *d)
{
    if (d->fin && !d->fin_reached && d->segs == NULL && d->next_seq == d->fin_seq) d->fin_reached = 1;
}

static void add_data(fp_reasm_shared *sh, fp_reasm *r, int di, uint32_t seq, const uint8_t *p, uint32_t len)
{
    fp_reasm_dir *d = &r->dir[di];
    uint32_t end = seq + len;
    if (d->fin && SEQ_GT(end, d->fin_seq)) {
        uint32_t cut = SEQ_LEQ(d->fin_seq, seq) ? len : end - d->fin_seq;
        r->anomalies |= FP_REASM_AFTER_FIN;
        sh->stats.after_fin_bytes += cut;
        len -= cut;
        end = seq + len;
        if (len == 0) return;
    }
    if (SEQ_LEQ(end, d->next_seq)) {
        if (len == 1 && seq == d->next_seq - 1) return; /* keep-alive probe: one garbage byte */
        seen_again(sh, r, di, seq, p, len);
        return;
    }
    if (SEQ_LT(seq, d->next_seq)) { /* partly old: keep the new tail */
        uint32_t k = d->next_seq - seq;
        seen_again(sh, r, di, seq, p, k);
        p += k;
        len -= k;
        seq = d->next_seq;
    }
    if ((uint32_t)(seq - d->next_seq) > WINDOW_LIMIT) {
        r->anomalies |= FP_REASM_OUT_OF_WINDOW;
        sh->stats.out_of_window_bytes += len;
        return;
    }
    if (seq == d->next_seq && d->segs == NULL) {
        deliver(sh, r, di, 0, p, len);
        return;
    }
    insert(sh, r, d, seq, p, len);
    drain(sh, r, di);
    enforce(sh, r, di);
}

void fp_reasm_segment(fp_reasm_shared *sh, fp_reasm *r, int di, uint32_t seq, uint32_t ack, uint8_t flags,
                      const uint8_t *payload, uint32_t len)
{
    fp_reasm_dir *d = &r->dir[di], *peer = &r->dir[!di];
    d->packets++;
    if (flags & FP_TH_RST) {
        d->rst = 1;
        return; /* a RST's payload is a diagnostic the receiving TCP never hands to the application */
    }
    if (flags & FP_TH_SYN) {
        if (!d->started) {
            d->started = d->syn = 1;
            d->isn = seq;
            d->next_seq = seq + 1;
        }
        /* a SYN-ACK acknowledges the client's ISN: its stream start is known */
        if ((flags & FP_TH_ACK) && !peer->started) {
            peer->started = 1;
            peer->isn = ack - 1;
            peer->next_seq = ack;
        }
        seq += 1; /* data carried by a SYN follows it */
    }
    if (!d->started && (len || (flags & FP_TH_FIN))) {
        d->started = 1;
        r->anomalies |= FP_REASM_MIDSTREAM;
        d->isn = seq - 1;
        d->next_seq = seq;
    }
    if ((flags & FP_TH_FIN) && d->started && !d->fin) {
        d->fin = 1;
        d->fin_seq = seq + len;
    }
    if (len && d->started) add_data(sh, r, di, seq, payload, len);
    if ((flags & FP_TH_ACK) && peer->started && (!peer->has_ack || SEQ_GT(ack, peer->peer_ack))) {
        peer->peer_ack = ack;
        peer->has_ack = 1;
        enforce(sh, r, !di);
        check_fin(peer);
    }
    check_fin(d);
}

void fp_reasm_finish(fp_reasm_shared *sh, fp_reasm *r)
{
    if (!r->dir[0].syn && !r->dir[1].syn) r->anomalies |= FP_REASM_MIDSTREAM; /* even without data */
    for (int di = 0; di < 2; di++) {
        fp_reasm_dir *d = &r->dir[di];
        while (d->segs) skip_to(sh, r, di, d->segs->seq);
        /* bytes the stream is known to have had but the capture lacks, up to the FIN or
         * the peer's acknowledgment */
        if (d->fin && SEQ_GT(d->fin_seq, d->next_seq)) {
            skip_to(sh, r, di, d->fin_seq);
        } else if (!d->fin && d->has_ack && SEQ_GT(d->peer_ack, d->next_seq)) {
            r->anomalies |= FP_REASM_ACKED_UNSEEN;
            skip_to(sh, r, di, d->peer_ack);
        }
        check_fin(d);
    }
}

void fp_reasm_copy_stored(const fp_reasm_dir *d, uint8_t *dst)
{
    for (const fp_reasm_block *b = d->blocks; b; b = b->next) {
        memcpy(dst, b->data, b->len);
        dst += b->len;
    }
}

size_t fp_reasm_stored_size(const fp_reasm_dir *d)
{
    size_t n = fp_alloc_size(d->gap_list);
    for (fp_reasm_block *b = d->blocks; b; b = b->next) n += fp_alloc_size(b);
    return n;
}

void fp_reasm_release(fp_reasm_shared *sh, fp_reasm *r)
{
    for (int di = 0; di < 2; di++) {
        fp_reasm_dir *d = &r->dir[di];
        while (d->segs) seg_free(sh, d, pop_head(d));
        sh->stats.stored -= d->cap;
        while (d->blocks) {
            fp_reasm_block *b = d->blocks;
            d->blocks = b->next;
            fp_budget_free(sh->budget, FP_MEM_STREAM_DATA, b);
        }
        fp_budget_free(sh->budget, FP_MEM_STREAM_DATA, d->gap_list);
        d->last = NULL;
        d->gap_list = NULL;
        d->len = d->cap = 0;
        d->ngaps = d->gaps_cap = 0;
    }
}
