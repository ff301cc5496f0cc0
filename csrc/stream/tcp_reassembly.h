/* TCP stream reassembly: one connection, two directions, bytes delivered in sequence
 * order exactly once. Python-free (used by the bridge and the fuzzer).
 *
 * Policy (documented in docs/DESIGN.md):
 *   - the ISN comes from the SYN; without one, the first data segment starts the stream
 *     ("midstream", flagged);
 *   - first data wins: bytes already buffered or delivered are never replaced; a later copy
 *     that differs is counted as an inconsistency;
 *   - a hole is never filled with invented bytes. It becomes a reported gap (offset, length)
 *     when data above it is waiting and either the peer has acknowledged past it (the capture
 *     lost bytes the receiver got), the direction's out-of-order buffer is over its cap, the
 *     buffers of all streams are over theirs, or the connection ends;
 *   - keep-alive probes (one byte or none just below the next expected byte) are ignored;
 *   - data past the FIN, and past `depth` bytes of a direction, are cut and counted.
 * 32-bit sequence numbers wrap; stream offsets are 64-bit. */
#ifndef FP_TCP_REASSEMBLY_H
#define FP_TCP_REASSEMBLY_H

#include <stddef.h>
#include <stdint.h>

#include "../flow/budget.h"

/* Limits shared by every stream of one engine; `buffered` is the running total. */
typedef struct {
    uint64_t depth;              /* bytes per direction kept/delivered; 0 = unlimited */
    uint64_t max_buffered;       /* out-of-order bytes per direction before a hole is skipped */
    uint64_t max_buffered_total; /* out-of-order bytes over all streams */
    int store;                   /* keep each direction's bytes (else only the sink sees them) */
} fp_reasm_config;

typedef struct {
    uint64_t buffered, buffered_peak;     /* out-of-order bytes held now / at most */
    uint64_t stored;                      /* bytes held in stored streams now */
    uint64_t delivered, gap_bytes, gaps;
    uint64_t forced_gaps;                 /* holes skipped because a buffer cap was reached */
    uint64_t retransmitted_bytes;         /* data seen again (dropped, first copy kept) */
    uint64_t inconsistent_bytes;          /* ... whose bytes differed from the first copy */
    uint64_t depth_cut_bytes, after_fin_bytes, out_of_window_bytes;
    uint64_t oom;                         /* segments lost to allocation failure */
} fp_reasm_stats;

typedef struct fp_reasm_shared {
    fp_reasm_config cfg;
    fp_reasm_stats stats;
    /* In-order data as it becomes contiguous (gap > 0: that many bytes are missing just
     * before `offset`). `user` is the stream's. Optional. */
    void (*sink)(void *ctx, void *user, int dir, uint64_t offset, uint64_t gap,
                 const uint8_t *data, uint32_t len);
    void *sink_ctx;
    fp_budget *budget;           /* the engine's (segments, stored bytes, gap lists); may be NULL */
} fp_reasm_shared;

enum { /* per-stream anomalies */
    FP_REASM_MIDSTREAM = 1u << 0,     /* no SYN: started at the first data seen */
    FP_REASM_INCONSISTENT = 1u << 1,  /* retransmitted bytes differed from the first copy */
    FP_REASM_DEPTH_CUT = 1u << 2,     /* bytes past `depth` were not kept */
    FP_REASM_BUFFER_CUT = 1u << 3,    /* a hole was skipped because a buffer cap was hit */
    FP_REASM_AFTER_FIN = 1u << 4,     /* data past the FIN */
    FP_REASM_OUT_OF_WINDOW = 1u << 5, /* a segment implausibly far from the stream */
    FP_REASM_ACKED_UNSEEN = 1u << 6,  /* the peer acknowledged bytes the capture lacks */
    FP_REASM_OOM = 1u << 7,           /* allocation failure lost bytes (drop mode) */
    FP_REASM_ANOM_COUNT_BITS = 8
};
extern const char *const fp_reasm_anomaly_names[FP_REASM_ANOM_COUNT_BITS];

typedef struct fp_reasm_seg fp_reasm_seg;
typedef struct fp_reasm_block fp_reasm_block;

typedef struct {
    uint64_t offset, length; /* offset into the direction's stored data */
} fp_reasm_gap;

typedef struct {
    uint8_t started, syn, fin, fin_reached, rst;
    uint8_t has_ack;
    uint32_t isn;             /* the SYN's sequence number (or first data seq - 1) */
    uint32_t next_seq;        /* next byte expected */
    uint32_t fin_seq;         /* sequence number of the FIN (end of data) */
    uint32_t peer_ack;        /* highest acknowledgment the peer sent for this direction */
    uint64_t offset;          /* stream offset of next_seq (delivered + gap bytes) */
    uint64_t contig_off, contig_idx; /* stream offset / stored index where the run since
                                        the last gap starts: maps old sequence to stored bytes */
    uint64_t packets, delivered, gap_bytes;
    fp_reasm_seg *segs;       /* out-of-order data, sorted, non-overlapping */
    fp_reasm_seg *tail;
    uint64_t buffered;
    uint32_t nsegs;
    /* store mode: blocks appended as the data grows, never moved (a growing contiguous
       buffer copied everything again at each reallocation); joined once when handed out */
    fp_reasm_block *blocks, *last;
    uint64_t len, cap;
    fp_reasm_gap *gap_list;
    uint32_t ngaps, gaps_cap;
} fp_reasm_dir;

typedef struct {
    fp_reasm_dir dir[2];      /* 0 = client -> server */
    uint32_t anomalies;       /* FP_REASM_* */
    void *user;               /* passed to the sink */
} fp_reasm;

#define FP_TH_FIN 0x01
#define FP_TH_SYN 0x02
#define FP_TH_RST 0x04
#define FP_TH_ACK 0x10

/* One TCP segment travelling in direction `dir` (0 client -> server). */
void fp_reasm_segment(fp_reasm_shared *sh, fp_reasm *r, int dir, uint32_t seq, uint32_t ack,
                      uint8_t flags, const uint8_t *payload, uint32_t len);
/* End of the connection: report what is still buffered, with its gaps. */
void fp_reasm_finish(fp_reasm_shared *sh, fp_reasm *r);
/* Copy a direction's stored bytes (d->len of them) to `dst`. */
void fp_reasm_copy_stored(const fp_reasm_dir *d, uint8_t *dst);
/* What a direction's stored bytes and gap list hold in the allocator (fp_alloc_size). */
size_t fp_reasm_stored_size(const fp_reasm_dir *d);
/* Free buffers (stored data included) and release their accounting. */
void fp_reasm_release(fp_reasm_shared *sh, fp_reasm *r);

#endif
