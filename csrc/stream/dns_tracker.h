/* DNS transactions: queries paired with their responses by (connection, transaction id),
 * over UDP (ports 53, 5353 mDNS, 5355 LLMNR, as the dissector finds DNS) and TCP port 53
 * (RFC 1035 section 4.2.2: messages with a 2-byte length prefix, reassembled, any number
 * per connection; RFC 7766). Python-free: the flow engine's extension hook feeds it.
 *
 * A transaction opens at a query (or at a response nobody asked for, as Zeek logs those)
 * and closes `timeout` after it opened (fp_dns_tick, as the flow table's clock passes it) or
 * when its connection leaves the flow table (idle, end of input, eviction). Until then later
 * responses with its id are counted on it (`responses`; a copy that differs from the first
 * is flagged) and a query repeated with the same id, name and type is a retransmission
 * (`queries`). The first response's message is kept whole; answers are read from it when
 * the record is made. Everything is charged to the engine's budget (component "dns").
 * A UDP connection left with no open transaction gives its state back at once (its flow
 * stays in the table, keeping its flow id, and its next message makes the state again):
 * the tracker holds what the last `timeout` of traffic opened, not every client seen. */
#ifndef FP_DNS_TRACKER_H
#define FP_DNS_TRACKER_H

#include "../flow/flow.h"
#include "tcp_reassembly.h"

#define FP_DNS_CONN_OPEN_MAX 1024u /* open transactions per connection: past it the oldest closes */
#define FP_DNS_QNAME_MAX 1024u     /* presentation form (dissect.h FP_DNS_NAME_MAX) */

/* Per-transaction anomalies (names in fp_dns_txn_anomaly_names). */
#define FP_DNS_TXN_ANOMALIES(X)                                                                  \
    X(MALFORMED, "dns_malformed")           /* counts or records run past a message */          \
    X(BAD_NAME, "dns_bad_name")             /* compression loop, forward pointer, over 255 octets */ \
    X(POINTER_CHAIN, "dns_pointer_chain")   /* names over the pointer-hop budget */              \
    X(NO_QUESTION, "dns_no_question")       /* a query without a question */                    \
    X(CUT, "dns_message_cut")               /* the message was cut by the snap length */         \
    X(RESPONSES_DIFFER, "dns_responses_differ") /* a later response differs from the first */   \
    X(TCP_GAP, "dns_tcp_gap")               /* a TCP gap cut the connection's message framing */ \
    X(TCP_RESYNC, "dns_tcp_resync")         /* the first message framed again by search (bytes skipped) */ \
    X(CLOSED_AT_CAP, "dns_closed_at_cap")   /* closed early: its connection had too many open */ \
    X(EVICTED, "evicted")                   /* its connection left the table to stay in max_memory */ \
    X(ALLOC_FAILED, "allocation_failed")    /* the response (or name) could not be kept */

#define FP_DNS_TXN_ENUM(name, str) FP_DNS_TXN_BIT_##name,
enum { FP_DNS_TXN_ANOMALIES(FP_DNS_TXN_ENUM) FP_DNS_TXN_ANOM_COUNT };
#undef FP_DNS_TXN_ENUM
#define FP_DNS_TXN_A(name) (1u << FP_DNS_TXN_BIT_##name)
extern const char *const fp_dns_txn_anomaly_names[FP_DNS_TXN_ANOM_COUNT];

#define FP_DNS_KIND_CONN 'c'
#define FP_DNS_KIND_TXN 't'

typedef struct fp_dns_txn {
    uint8_t kind;               /* FP_DNS_KIND_TXN (a flow's ext may be a connection or a transaction) */
    uint8_t tcp;                /* over TCP */
    uint8_t orig_is_b;          /* the query's sender is the key's b side */
    uint8_t has_question;
    struct fp_dns_txn *next;    /* the connection's open list, oldest first */
    struct fp_dns_txn *older, *newer; /* every connection's open transactions, in opening order */
    struct fp_dns_conn *conn;   /* while open */
    uint64_t open_pkt;          /* input position of the packet that opened it (tick order) */
    int64_t tick_ns;            /* the clock when it opened (its time, or later when stamped
                                   back): fp_dns_tick closes it `timeout` after this */
    fp_flow_key key;
    uint64_t flow_id;
    uint64_t create_pkt;        /* the flow's: a sharded run's merge renumbers flow ids from it */
    uint16_t id, qflags;        /* the query's header flags (0 without a query) */
    uint16_t qtype, qclass;     /* of the first question (query's, else the response's) */
    uint32_t queries, responses;
    int64_t open_ns, query_ns, response_ns; /* query/response times, FP_FLOW_NO_TIME when unseen */
    uint32_t anomalies;         /* FP_DNS_TXN_A bits */
    char *qname;                /* NUL-terminated presentation form, or NULL */
    uint8_t *resp;              /* the first response message, whole (as captured) */
    uint32_t resp_len;
    size_t held;                /* bytes moved to the budget's `held` while queued for output */
} fp_dns_txn;

/* One direction of a TCP connection: the length prefix, then the message. Without its
 * start (no SYN: the capture began mid-stream) or after a gap, the direction hunts: each
 * chunk of in-order bytes, after the last FP_DNS_HUNT_TAIL bytes of the chunks hunted
 * before it (a header and question can straddle segments), is searched for a length prefix
 * followed by a plausible message (fp_dns_tcp_hunt), and the bytes before it are skipped and
 * counted. A message found inside a chunk and running past it is framed on trial: it is
 * read only if it parses to exactly its length once whole, else its bytes are skipped. */
#define FP_DNS_HUNT_TAIL (2u + 12u + 256u + 4u) /* a prefix, a header and the longest question */
typedef struct {
    uint8_t prefix[2];
    uint8_t have_prefix;        /* prefix bytes read (0..2) */
    uint8_t started;            /* bytes of this direction were seen */
    uint8_t hunting;            /* framing unknown: searching for the next message */
    uint8_t lost;               /* hunting after a gap or skipped bytes: flag the next message */
    uint8_t dead;               /* framing state could not be allocated: nothing more is read */
    uint8_t trial;              /* the message being gathered was found inside a chunk, running
                                   past it: read only if it parses to exactly its length */
    uint16_t tail_len;          /* hunted bytes kept for the next chunk's search (not yet counted) */
    uint32_t need, got;         /* message length and bytes gathered */
    uint8_t *buf;
    uint8_t *tail;              /* FP_DNS_HUNT_TAIL bytes, while hunting */
} fp_dns_tcp_dir;

typedef struct fp_dns_conn {
    uint8_t kind;               /* FP_DNS_KIND_CONN */
    uint8_t tcp;
    fp_dns_txn *open, *open_tail;
    uint32_t nopen;
    fp_reasm *r;                /* TCP: the connection's reassembler (store off) */
    fp_dns_tcp_dir dir[2];      /* TCP: 0 = the flow's forward direction */
    const fp_flow *flow;        /* the flow being fed (valid during a packet) */
    void **home;                /* where the flow holds it (set to FP_DNS_IDLE when it goes) */
} fp_dns_conn;

/* A flow's state pointer for a DNS connection whose state was given back (UDP, nothing
 * open): its next packet makes the state again. */
extern uint8_t fp_dns_idle_marker;
#define FP_DNS_IDLE ((void *)&fp_dns_idle_marker)

typedef struct {
    uint64_t messages, queries, responses, tcp_messages;
    uint64_t transactions, answered, unanswered, response_only;
    uint64_t retransmitted_queries, duplicate_responses, responses_differ;
    uint64_t short_messages;    /* shorter than a DNS header: no transaction id, no row */
    uint64_t tcp_gaps, closed_at_cap, evicted, oom;
    uint64_t tcp_resyncs;       /* framing found again by search after a gap or skipped bytes */
    uint64_t tcp_skipped_bytes; /* TCP bytes in no framed message (mid-stream starts, after
                                   gaps, a message cut by the connection's end) */
    uint64_t state_peak_bytes;  /* most DNS state held at once after a packet: connections, open
                                   transactions, framing (closed ones waiting for output aside) */
} fp_dns_stats;

/* A closed transaction, handed to the engine (which owns it from then on). */
typedef void (*fp_dns_emit_fn)(void *ctx, fp_dns_txn *t);

typedef struct {
    fp_reasm_shared sh;         /* TCP reassembly; its sink frames messages */
    fp_dns_stats stats;
    int64_t timeout_ns;         /* a transaction closes this long after it opened */
    int64_t now_ns;
    fp_dns_emit_fn emit;
    void *emit_ctx;
    fp_budget *budget;
    fp_dns_txn *oldest, *newest; /* every open transaction, in opening order */
    uint64_t pkt;               /* input position of the packet being fed (the caller's) */
    int64_t clock_ns;           /* the clock fp_dns_tick was last given (never goes back) */
    uint64_t held;              /* DNS bytes of closed transactions waiting for output */
} fp_dns_tracker;

void fp_dns_tracker_init(fp_dns_tracker *t, fp_budget *budget, int64_t timeout_ns, fp_dns_emit_fn emit, void *ctx);

/* 1 when a packet of a new connection is one the tracker follows (UDP carrying DNS as the
 * dissector found it, TCP with port 53). */
int fp_dns_wants(const fp_flow_packet *p);
/* One packet of a connection (forward: as the flow table oriented it). *home is the flow's
 * state pointer: NULL or FP_DNS_IDLE (the connection's state is made) or its fp_dns_conn;
 * it must stay at that address while the flow lives (fp_dns_tick may set it to FP_DNS_IDLE).
 * Closed transactions go to the emit callback. -1 (and *home NULL) when state could not be
 * allocated. */
int fp_dns_packet(fp_dns_tracker *t, void **home, const fp_flow *f, const fp_flow_packet *p, int forward);
/* The clock reached now: transactions opened `timeout` before it close, oldest first, and
 * UDP connections left with none open give their state back. A transaction stamped before
 * the clock (time running back) counts from the clock instead: the open list then stays
 * sorted by what the tick tests, so what closes at a packet does not depend on the other
 * connections held (each worker of a parallel run holds its shards' only). */
void fp_dns_tick(fp_dns_tracker *t, int64_t now_ns);
/* The connection leaves the table: every open transaction closes (flagged 'evicted' when
 * evicted), then its state is freed. */
void fp_dns_conn_end(fp_dns_tracker *t, fp_dns_conn *c, const fp_flow *f, int evicted);
void fp_dns_conn_free(fp_dns_tracker *t, fp_dns_conn *c);
/* A closed transaction now waits in the output queue (not evictable); freed by the consumer. */
void fp_dns_txn_hold(fp_dns_tracker *t, fp_dns_txn *x);
void fp_dns_txn_free(fp_dns_tracker *t, fp_dns_txn *x);
/* A held transaction leaves the tracker and its budget (a live merge's queue counts it
 * now): returns its bytes. Its memory is then freed by fp_dns_txn_drop, on any thread. */
size_t fp_dns_txn_release(fp_dns_tracker *t, fp_dns_txn *x);
void fp_dns_txn_drop(fp_dns_txn *x);

/* Header fields of a message (the caller checked it holds 12 bytes). */
static inline uint16_t fp_dns_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* Where a length-prefixed message plausibly starts in `len` in-order bytes of a direction
 * whose framing is unknown, or `len` when nowhere. At offset `seg` (a segment's start: RFC
 * 7766 section 8 asks senders to write prefix and message together, so a message usually
 * starts a segment) a plausible header and one plausible question are enough when the
 * message runs past the bytes; anywhere else a message that lies in them must ask one
 * question, parse to exactly its length, and be followed by their end or a prefix of at
 * least 12. Failing those, the first message asking one plausible question that runs past
 * the bytes is returned with *trial set (its whole must parse exactly: the caller checks). */
uint32_t fp_dns_tcp_hunt(const uint8_t *data, uint32_t len, uint32_t seg, int *trial);

#endif
