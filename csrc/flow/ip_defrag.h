/* IP fragment reassembly (IPv4: RFC 791 sections 2.3 and 3.2; IPv6: RFC 8200 section
 * 4.5), before the transport layers. Python-free.
 *
 * Datagrams are keyed by (version, source, destination, identification, and for IPv4
 * the protocol). Each fragment's payload is copied; when the fragments cover the whole
 * datagram (the last one, MF clear, fixed its length) the fragment that completed it
 * gets a frame made of its own bytes up to its IP payload (link header, its IP header
 * and, for IPv6, its extension headers up to the fragment header) followed by the whole
 * reassembled payload, for fp_dissect_datagram(). Overlaps are resolved per byte by the
 * policy (after Suricata's target-based ones):
 *   first  the fragment that came first keeps its bytes (default; tshark's result
 *          whenever the earlier fragment does not start later, and our TCP streams' rule)
 *   last   the later fragment overwrites
 *   bsd    the later fragment wins only where it starts before the earlier one
 *   linux  the later fragment wins where it starts at or before the earlier one
 * Anomalies carry Zeek's weird names (dissect.h, FP_ANOM_FRAG_*).
 *
 * Bounded: a datagram keeps at most FP_DEFRAG_MAX_FRAGS fragments and 65535 payload
 * bytes; everything held (fragment copies and datagram state) is charged to the budget
 * and capped by `max_bytes`: above it the least recently touched datagrams are dropped
 * (counted, the fragment flagged fragment_dropped), and a datagram that would pass it
 * alone (overlapping copies) is dropped with its fragment. Datagrams not completed within
 * `timeout_ns` of packet time since their first fragment are dropped. */
#ifndef FP_IP_DEFRAG_H
#define FP_IP_DEFRAG_H

#include <stdint.h>

#include "../dissect/dissect.h"
#include "budget.h"

typedef enum {
    FP_DEFRAG_FIRST = 0,
    FP_DEFRAG_LAST = 1,
    FP_DEFRAG_BSD = 2,
    FP_DEFRAG_LINUX = 3,
} fp_defrag_policy;

#define FP_DEFRAG_MAX_FRAGS 256
#define FP_DEFRAG_TIMEOUT_NS (30LL * 1000000000LL) /* Linux's ipfrag_time */
#define FP_DEFRAG_MAX_BYTES (64u << 20)

typedef struct {
    fp_defrag_policy policy;
    int64_t timeout_ns;
    uint64_t max_bytes;
} fp_defrag_config;

typedef struct {
    uint64_t fragments;     /* fragments taken in */
    uint64_t reassembled;   /* datagrams completed */
    uint64_t timed_out;     /* datagrams dropped incomplete after the timeout */
    uint64_t dropped;       /* datagrams dropped by the memory cap or the fragment limit */
    uint64_t overlaps;      /* fragments overlapping an earlier one */
    uint64_t unusable;      /* fragments cut by the snap length or past 65535 bytes */
    uint64_t pending;       /* datagrams held now */
} fp_defrag_stats;

typedef struct {
    const uint8_t *data;    /* FP_DEFRAG_COMPLETE: the reassembled frame (valid until the next call) */
    uint32_t len;
    uint64_t anomalies;     /* FP_ANOM_FRAG_* for this fragment; when complete, the datagram's */
    const uint64_t *frames; /* FP_DEFRAG_COMPLETE: the fragments' frame numbers, by offset */
    uint32_t nframes;
} fp_defrag_result;

enum { FP_DEFRAG_PASS = 0, FP_DEFRAG_HELD = 1, FP_DEFRAG_COMPLETE = 2 };

typedef struct fp_defrag fp_defrag;

/* NULL on allocation failure. The budget (may be NULL) must outlive the reassembler. */
fp_defrag *fp_defrag_new(const fp_defrag_config *cfg, fp_budget *budget);
void fp_defrag_free(fp_defrag *df);
/* Offer a dissected record. FP_DEFRAG_PASS: not a fragment (or one that cannot be used:
 * deliver it as it is); FP_DEFRAG_HELD: a piece of a datagram still incomplete;
 * FP_DEFRAG_COMPLETE: res->data is the reassembled frame. `frame` is the record's frame
 * number, only reported back. */
int fp_defrag_add(fp_defrag *df, const uint8_t *data, uint32_t caplen, const fp_dissection *d,
                  int64_t ts_ns, uint64_t frame, fp_defrag_result *res);
const fp_defrag_stats *fp_defrag_stats_of(const fp_defrag *df);
/* A fragment held for a datagram still incomplete, as tshark shows it with reassembly on:
 * its link and IP headers, then data (a first fragment's transport header is the
 * datagram's). Display filters and statistics read it so. */
static inline void fp_defrag_hide_upper(fp_dissection *d) { d->present &= (1u << FP_L_TCP) - 1; }
/* "first", "last", "bsd", "linux"; -1 for another name. */
int fp_defrag_policy_from_name(const char *name);

#endif
