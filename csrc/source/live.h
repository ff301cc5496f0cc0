/* Live capture through libpcap's create -> set -> activate lifecycle, as an fp_source:
 * fp_source_next() then returns FP_SOURCE_IDLE when the read timeout passes without a
 * packet, so callers regain control (signals, deadlines, idle expiry) on a quiet link.
 * Record data points into libpcap's buffer: valid until the next call. Python-free. */
#ifndef FP_LIVE_H
#define FP_LIVE_H

#include "source.h"

typedef struct {
    const char *iface;       /* NULL or "": libpcap's first device ("any" on Linux if none) */
    const char *filter;      /* BPF expression compiled into the kernel, or NULL */
    int snaplen;
    int promisc;
    int immediate;           /* deliver each packet at once (no buffering delay) */
    int buffer_size;         /* kernel ring bytes; 0 = libpcap's default */
    int timeout_ms;          /* read timeout: how often an idle capture returns */
    int nanosecond;          /* ask for nanosecond timestamps (falls back to micro) */
    int inbound_only;        /* skip packets this host sends (libpcap's PCAP_D_IN) */
} fp_live_config;

/* Open and activate; NULL with err filled: FP_ERR_NO_DEVICE, FP_ERR_PERMISSION,
 * FP_ERR_FILTER (libpcap's message) or FP_ERR_IO. */
fp_source *fp_source_open_live(const fp_live_config *cfg, fp_error *err);
/* Make a blocked or future fp_source_next() on this source return 0 (end): safe from
 * another thread or a signal handler. */
void fp_source_live_break(fp_source *s);
/* Kernel counters (pcap_stats): packets received, dropped by the kernel (buffer full),
 * dropped by the interface. Returns -1 when the source is not live or stats failed. */
int fp_source_live_stats(fp_source *s, uint64_t *received, uint64_t *dropped, uint64_t *if_dropped);
int fp_source_is_live(const fp_source *s);
/* How long the next fp_source_next() may wait for a packet when none is buffered (ms, 0:
 * not at all), for callers that interleave reading with their own schedule (probe). */
void fp_source_live_set_wait(fp_source *s, int wait_ms);

#endif
