/* Probing for sr()/srp()/send(): raw sockets that send probes and a session that matches
 * what a live capture sees to the probes those packets answer, with Scapy's answers()
 * rules (scapy/layers/inet.py, inet6.py, l2.py as of Scapy 2.6-2.8). Python-free.
 *
 * A session opens its capture before anything is sent, so no answer can arrive before the
 * capture is armed; sending and matching then run in one loop (fp_probe_run) that sends
 * what is due and drains the capture between sends, so a burst of answers waits in the
 * kernel's capture ring, never in a socket buffer nobody reads. */
#ifndef FP_PROBE_H
#define FP_PROBE_H

#include <stdint.h>

#include "../source/source.h"

/* ---- sockets -------------------------------------------------------------------------- */
/* Sends IP packets through raw sockets (the kernel routes them, picks the next hop and, for
 * a zero IPv4 source, the source address; it also fills the IPv4 header checksum and total
 * length, see raw(7)) or Ethernet frames on one interface (AF_PACKET, sent as given). */
typedef struct fp_sender fp_sender;

/* l2_iface NULL: IP packets (IPv4 or IPv6 by version nibble); else frames on that interface. */
fp_sender *fp_sender_open(const char *l2_iface, fp_error *err);
/* 0 sent; 1 not sent for a reason that leaves the probe unanswered (no route, host
 * unreachable, not an IP packet): errno-like code in *why; -1 error in err. Retries
 * briefly when the kernel queue is full (ENOBUFS, EAGAIN). */
int fp_sender_send(fp_sender *s, const uint8_t *data, uint32_t len, int *why, fp_error *err);
void fp_sender_close(fp_sender *s);

/* ---- matching sessions ---------------------------------------------------------------- */
typedef struct fp_probe_session fp_probe_session;

typedef struct {
    const char *capture_iface; /* NULL or "": all interfaces ("any") */
    const char *filter;        /* user BPF, or NULL */
    const char *l2_iface;      /* NULL: probes are IP packets; else Ethernet frames sent here */
    int multi;                 /* a probe may collect several answers */
    int buffer_size;           /* capture ring bytes */
} fp_probe_config;

typedef struct {
    uint32_t probe;    /* index of the probe answered */
    uint32_t linktype; /* of the capture */
    int64_t ts_ns;     /* capture timestamp */
    uint32_t net_off;  /* offset of the network header in the record (for L3 answers) */
    uint32_t len;
    uint64_t data_off; /* into fp_probe_answer_data() */
} fp_probe_answer;

typedef struct {
    uint64_t captured;     /* packets the capture delivered */
    uint64_t sent;         /* probes sent */
    uint64_t send_skipped; /* probes the kernel refused to route (left unanswered) */
    int last_skip_errno;
    uint64_t unmatched;    /* captured packets that answered no probe */
} fp_probe_stats;

/* Opens the capture (and the sockets). NULL with err: capture errors as live.h's
 * (FP_ERR_PERMISSION says how to grant privileges), socket errors FP_ERR_IO/PERMISSION. */
fp_probe_session *fp_probe_open(const fp_probe_config *cfg, fp_error *err);
/* Register a probe (bytes copied); returns its index or -1 (out of memory). */
int64_t fp_probe_add(fp_probe_session *s, const uint8_t *data, uint32_t len);
/* Plan a round: send the probes listed (indices), `inter_ns` apart, then wait
 * `timeout_ns` after the last send (< 0: until every probe is answered). Resets the
 * round's clock; answers to earlier rounds keep being matched. 0, or -1 (bad index). */
int fp_probe_plan(fp_probe_session *s, const uint32_t *probes, uint32_t n, int64_t inter_ns,
                  int64_t timeout_ns);
/* Work for at most `slice_ms`: send what is due, match what the capture holds. 1: the
 * round goes on; 0: done (all sent, and all answered unless multi, or the timeout
 * passed); -1: error in err. */
int fp_probe_run(fp_probe_session *s, int slice_ms, fp_error *err);

uint32_t fp_probe_count(const fp_probe_session *s);
/* Wall-clock time of the probe's latest send (ns since the epoch), 0 if never sent. */
int64_t fp_probe_sent_ns(const fp_probe_session *s, uint32_t probe);
uint32_t fp_probe_answer_count(const fp_probe_session *s);
const fp_probe_answer *fp_probe_answer_at(const fp_probe_session *s, uint32_t i);
const uint8_t *fp_probe_answer_data(const fp_probe_session *s, const fp_probe_answer *a);
/* Answers a probe has received. */
uint32_t fp_probe_answers_of(const fp_probe_session *s, uint32_t probe);
void fp_probe_get_stats(const fp_probe_session *s, fp_probe_stats *out);
/* Capture counters (pcap_stats): kernel drops mean answers may be missing. */
int fp_probe_capture_stats(const fp_probe_session *s, uint64_t *received, uint64_t *dropped);
void fp_probe_close(fp_probe_session *s);

/* ---- the rules, exposed for tests --------------------------------------------------- */
/* 1 when packet `ans` (link type `ans_lt`) answers probe `probe` (link type `probe_lt`)
 * under the session rules, 0 otherwise. */
int fp_probe_answers(const uint8_t *probe, uint32_t probe_len, uint32_t probe_lt,
                     const uint8_t *ans, uint32_t ans_len, uint32_t ans_lt);

#endif
