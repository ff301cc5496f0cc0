/* Flow aggregation: a bounded table of bidirectional (or one-way) flows fed with
 * dissected records, expiring flows by idle/active timeouts, TCP close, end of
 * input and eviction (max_flows, memory budget). Python-free: used by the bridge and the fuzzer.
 *
 *   flow_key.c     canonical keys from a dissection (direction, ICMP echo pairing)
 *   flow_frag.c    the bounded IP fragment table (later fragments -> first's key)
 *   flow_record.c  one flow's counters, TCP flags/history/conn_state, RTT, seq tracking
 *   flow_table.c   open-addressing table, LRU and closing lists, expiry, eviction */
#ifndef FP_FLOW_H
#define FP_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "../dissect/dissect.h"
#include "budget.h"

#define FP_FLOW_NONE 0xFFFFFFFFu   /* null index in the intrusive lists */
#define FP_FLOW_NO_VLAN 0xFFFFu    /* vlan field of untagged flows (ids are 12 bits) */
#define FP_FLOW_NO_TIME INT64_MIN  /* an RTT timestamp not observed */

/* Canonical key: 48 bytes, padding zeroed, compared with memcmp and hashed as words.
 * Bidirectional keys order the (address, port) pairs so both directions meet. */
typedef struct {
    uint8_t a[16], b[16]; /* IPv4 addresses use the first 4 bytes */
    uint16_t pa, pb;      /* ports; ICMP echo: the identifier in both */
    uint16_t vlan;        /* outer 802.1Q id or FP_FLOW_NO_VLAN */
    uint8_t proto, ip_version;
    uint8_t icmp_type, icmp_code; /* echo reply folded into its request type */
    uint8_t has_ports;    /* TCP/UDP (or fragment of one attributed by the fragment table) */
    uint8_t tunnel_type;  /* innermost tunnel (fp_tunnel_type | FP_FLOW_TUNNEL_HAS_ID) or 0: inner 5-tuples of */
    uint32_t tunnel_id;   /* different VNIs, TEIDs, GRE keys or labels are different flows */
} fp_flow_key;
#define FP_FLOW_TUNNEL_HAS_ID 0x80

/* A packet as the flow engine sees it: key material plus what the record update needs. */
typedef struct {
    fp_flow_key key;         /* canonical */
    int swapped;             /* 1 when the packet travels b -> a in key order */
    int64_t ts_ns;
    uint32_t wirelen;
    uint32_t l4_payload;     /* TCP/UDP payload length from the IP/UDP length fields */
    uint8_t icmp_type, icmp_code; /* as on the wire */
    uint8_t is_tcp, is_udp, is_icmp;
    uint8_t tcp_flags;       /* FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80 */
    uint16_t window;         /* here: no padding before the 64-bit anomalies */
    uint32_t seq, ack;
    uint64_t anomalies;      /* FP_ANOM_* of the dissection */
    const uint8_t *data;     /* the record, for application hints */
    const fp_dissection *d;
} fp_flow_packet;

/* Per-flow anomalies found by the flow engine (above the dissection's bits). */
enum {
    FP_FLOW_ANOM_FRAG_ORPHAN = 1u << 0,  /* a later fragment whose first was not seen */
    FP_FLOW_ANOM_HISTORY_FULL = 1u << 1, /* history string hit its length cap */
    FP_FLOW_ANOM_SEQ_HOLES = 1u << 2,    /* more sequence holes than tracked */
    FP_FLOW_ANOM_BAD_FLAGS = 1u << 3,    /* SYN+FIN, SYN+RST or FIN+RST in one segment */
    FP_FLOW_ANOM_EVICTED = 1u << 4,      /* left the table early to keep within max_memory/max_flows */
    FP_FLOW_ANOM_ALLOC_FAILED = 1u << 5, /* an allocation for its state failed: state incomplete */
    FP_FLOW_ANOM_TLS_HELLO = 1u << 6,    /* the ClientHello behind sni/ja3/ja4 was cut short or
                                            past max_hello_fields: they cover part of it */
    FP_FLOW_ANOM_COUNT_BITS = 7
};
extern const char *const fp_flow_anomaly_names[FP_FLOW_ANOM_COUNT_BITS];

typedef enum {
    FP_EXP_IDLE = 0, FP_EXP_ACTIVE, FP_EXP_FIN, FP_EXP_RST, FP_EXP_END, FP_EXP_EVICTED, FP_EXP_COUNT
} fp_expiration;
extern const char *const fp_expiration_names[FP_EXP_COUNT];

/* Zeek conn.log conn_state values, in Zeek's documented order. */
typedef enum {
    FP_CS_S0 = 0, FP_CS_S1, FP_CS_SF, FP_CS_REJ, FP_CS_S2, FP_CS_S3, FP_CS_RSTO, FP_CS_RSTR,
    FP_CS_RSTOS0, FP_CS_RSTRH, FP_CS_SH, FP_CS_SHR, FP_CS_OTH, FP_CS_COUNT
} fp_conn_state;
extern const char *const fp_conn_state_names[FP_CS_COUNT];

/* TCP endpoint states (after Zeek's analyzer): what one side has done so far. */
enum { FP_EP_INACTIVE = 0, FP_EP_SYN_SENT, FP_EP_SYN_ACK_SENT, FP_EP_PARTIAL, FP_EP_ESTABLISHED,
       FP_EP_CLOSED, FP_EP_RESET };

#define FP_FLOW_SEQ_HOLES 4   /* tracked sequence gaps per direction */
#define FP_FLOW_HISTORY_MAX 31
#define FP_FLOW_HINT_PACKETS 10 /* application hints are looked for in a record's first packets */

/* One direction's counters and what the flow's output needs of its TCP state. */
typedef struct {
    uint64_t packets, bytes, payload_bytes;
    /* Sizes and inter-arrival times (ns; n = packets - 1) as sums of their differences to
     * the direction's first value and of their squares: mean and variance at the end, no
     * division per packet (Welford's), exact mean (bytes / packets, iat_sum_ns / n). */
    double size_d, size_dd;
    int64_t last_ns;
    int64_t iat_min_ns, iat_max_ns, iat_first_ns;
    uint64_t iat_sum_ns;                 /* unsigned: hostile timestamps wrap, never overflow */
    double iat_d, iat_dd;
    uint64_t missed;                     /* bytes in content gaps (Zeek's missed_bytes) */
    uint32_t size_min, size_max, size_first;
    uint32_t z_start;                    /* ISN (or first seq - 1 without a SYN), see fp_flow_tcp_dir */
    uint32_t acked;                      /* highest ack the peer sent for this side's data */
    uint8_t has_acked;
    uint8_t hist_seen;                   /* once-per-direction history letters, bit per letter */
} fp_flow_dir;

/* One TCP direction's sequence tracking: needed only while its flow is in the table, so it
 * lives in the table's TCP pool (fp_flow.tcp), not in the record: UDP/ICMP flows and the
 * records handed out (kept by the thousand in the output queue) do without its 200 bytes. */
typedef struct {
    uint32_t seq_end;                    /* highest sequence end seen (wrap-safe compare) */
    uint32_t hole_start[FP_FLOW_SEQ_HOLES], hole_end[FP_FLOW_SEQ_HOLES];
    /* Zeek's per-endpoint sequence view (TCP_Endpoint / TCP_Reassembler), absolute values:
     * z_last = highest sequence end of any segment (pure ACKs and FIN count), z_fin_end =
     * just past the last FIN, z_reassem = end of the contiguous captured data (Zeek's
     * last_reassem_seq), z_blk_* = captured data above a hole. Used for the T/t, G/g letters
     * and the close rule for last_ns. */
    uint32_t z_last, z_fin_end, z_reassem;
    uint32_t z_blk_start[FP_FLOW_SEQ_HOLES], z_blk_end[FP_FLOW_SEQ_HOLES];
    uint32_t retrans, zero_windows, gaps; /* for Zeek's logarithmic T/W/G repeats */
    uint8_t holes, has_seq;
    uint8_t z_init, z_fin, z_blocks;
    uint8_t z_partial;                   /* first packet made Zeek call the connection partial */
    uint8_t did_close;                   /* sent a FIN or RST (Zeek's TCP_Endpoint::did_close) */
    uint8_t prev_state;                  /* FP_EP_* before the last change */
} fp_flow_tcp_dir;

typedef struct {
    fp_flow_tcp_dir dir[2];              /* as fp_flow.dir */
} fp_flow_tcp;

#define FP_HINT_TEXT 256
#define FP_HINT_ALPN 64
typedef struct {
    char sni[FP_HINT_TEXT], http_host[FP_HINT_TEXT], http_method[16], dns_qname[FP_HINT_TEXT];
    char alpn[FP_HINT_ALPN], ja3[33], ja4[40]; /* from a reassembled ClientHello */
    uint16_t sni_len, http_host_len, http_method_len, dns_qname_len, alpn_len;
    int16_t dns_rcode;                   /* -1 = no response seen */
} fp_flow_hints;

/* Where in the single-table run a record is handed out: the packet being added (UINT64_MAX
 * at the final flush) and the rank among that packet's emissions (phase << 60 | position).
 * Records of a sharded run merged by this key come out in the order one table gives. */
typedef struct {
    uint64_t pkt, rank;
} fp_flow_order;

/* A flow's record. The core, up to `history`, is what the table and an engine that hands
 * out no flows (fp.dns: cfg.no_hints) need: such a table's pool holds records of
 * FP_FLOW_CORE_SIZE bytes (fp_flow_record_init_core/update_core touch nothing past it),
 * and its emit and packet callbacks must read only the core. */
typedef struct {
    fp_flow_key key;          /* canonical */
    uint64_t hash;
    uint64_t flow_id;
    uint8_t client_is_b;      /* forward direction = b -> a in key order */
    uint8_t expiration;       /* fp_expiration, set when emitted */
    uint8_t closing;          /* 0, FP_EXP_FIN or FP_EXP_RST: in the close grace */
    uint8_t flipped;
    uint8_t state[2];         /* TCP endpoint states (FP_EP_*), as dir */
    uint8_t icmp_type, icmp_code; /* of the first packet */
    int64_t first_ns, last_ns, close_ns;
    uint64_t anomalies;       /* FP_ANOM_* seen in the flow's packets */
    uint32_t flow_anomalies;  /* FP_FLOW_ANOM_* */
    fp_flow_hints *hints;     /* allocated when the first hint is found */
    fp_flow_tcp *tcp;         /* TCP flows while in the table (NULL in records handed out, and
                                 when it could not be allocated: 'allocation_failed') */
    void *ext;                /* the table's extension state (stream reassembly), or NULL */
    uint32_t lru_prev, lru_next;     /* least recently seen first */
    uint32_t close_prev, close_next; /* closing flows, oldest close first */
    /* Input positions (index of the packet among all the table saw) that order a sharded
     * run's output like the single table's: creation (flow_id's rank), last packet (LRU
     * order), close (closing-list order). */
    uint64_t create_pkt, last_pkt, close_pkt;
    /* ---- past the core: what a flow handed out reports ---- */
    char history[FP_FLOW_HISTORY_MAX + 1]; /* NUL-terminated */
    int64_t conn_last_ns;    /* Zeek's last time: frozen once both TCP ends closed (duration) */
    int64_t syn_ns, synack_ns, ack_ns;
    fp_flow_dir dir[2];       /* 0 = forward (client -> server) */
    uint32_t syn, synack, fin, rst, psh, urg, ece, cwr;
    uint32_t retransmits, out_of_order;
    fp_flow_order order;      /* when it was emitted; set by the consumer (fp_flow_table_order) */
} fp_flow;
#define FP_FLOW_CORE_SIZE offsetof(fp_flow, history)

/* ---- flow_key.c -------------------------------------------------------- */
/* Fill a flow packet from a dissected record. Returns 0, or -1 for non-IP packets.
 * Later fragments get has_ports = 0: the fragment table then supplies their key. */
int fp_flow_packet_from(fp_flow_packet *p, const uint8_t *data, const fp_dissection *d,
                        int64_t ts_ns, uint32_t wirelen, int bidirectional);
uint64_t fp_flow_key_hash(const fp_flow_key *k);
/* Sharded runs: the shard (of `shards`) that keeps a flow is a function of its key's two
 * endpoints, symmetric (sums of the addresses' words and of the ports), so a packet's shard
 * is found without ordering its endpoints into the canonical key (one- and two-way keys
 * alike); one multiply-xorshift mix, the top bits scaled to [0, shards). */
static inline uint32_t fp_flow_endpoints_shard(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1, uint32_t ports,
                                               uint32_t shards)
{
    /* ports get a multiply of their own: XORed in raw, a port sweep between one address pair
     * (sources 1024..1087 to one server) changed only low bits and landed on one shard */
    uint64_t h = (a0 + b0) * 0x9E3779B97F4A7C15ull ^ (a1 + b1) * 0xC2B2AE3D27D4EB4Full ^
                 (uint64_t)ports * 0x165667B19E3779F9ull;
    h ^= h >> 32;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)(((h >> 40) * shards) >> 24);
}
uint32_t fp_flow_shard(const fp_flow_key *k, uint32_t shards);
/* The shard of a plain TCP/UDP record without dissecting it (fp_dissect_key_fields: the key
 * fp_flow_packet_from would make after fp_dissect_ex(flags)); -1 when the record needs its
 * dissection to be keyed (tunnels, fragments, ICMP, non-IP...). */
int fp_flow_key_pass(const uint8_t *data, uint32_t caplen, uint32_t linktype, int flags, uint32_t shards);
/* Identification of an IP fragment (IPv4 id or IPv6 fragment header id); 0 if none. */
int fp_flow_fragment_id(const uint8_t *data, const fp_dissection *d, uint32_t *id);

/* ---- flow_frag.c -------------------------------------------------------- */
#define FP_FRAG_SLOTS 1024            /* direct-mapped: a newer datagram overwrites */
#define FP_FRAG_LIFETIME_NS 30000000000LL /* RFC 791's upper bound on reassembly time */
typedef struct {
    uint64_t tag;                     /* hash of (addresses, proto, id); 0 = empty */
    int64_t ts_ns;
    fp_flow_key key;                  /* the first fragment's flow key */
    int swapped;
} fp_frag_slot;
typedef struct {
    fp_frag_slot *slots;              /* FP_FRAG_SLOTS entries, allocated at the first fragment */
    uint64_t overwrites;
} fp_frag_table;
/* The tag of a fragment: the key of its datagram (not its flow). */
uint64_t fp_frag_tag(const uint8_t *data, const fp_dissection *d, uint32_t id);
void fp_frag_remember(fp_frag_table *t, uint64_t tag, int64_t ts_ns, const fp_flow_key *key,
                      int swapped);
/* 1 and the key when the first fragment was seen recently, else 0. */
int fp_frag_lookup(const fp_frag_table *t, uint64_t tag, int64_t ts_ns, fp_flow_key *key,
                   int *swapped);

/* ---- flow_record.c ------------------------------------------------------ */
/* Start a flow at its first packet: orientation (SYN-ACK first -> the receiver is the client). */
void fp_flow_record_init(fp_flow *f, const fp_flow_packet *p, uint64_t flow_id, int bidirectional);
/* Account one packet; returns FP_EXP_FIN/FP_EXP_RST when the packet closes the flow, else 0. */
int fp_flow_record_update(fp_flow *f, const fp_flow_packet *p);
/* The same for a core record (FP_FLOW_CORE_SIZE bytes): orientation, times, anomalies,
 * endpoint states and closes, as the full record's without its sequence state. */
void fp_flow_record_init_core(fp_flow *f, const fp_flow_packet *p, uint64_t flow_id, int bidirectional);
int fp_flow_record_update_core(fp_flow *f, const fp_flow_packet *p);
fp_conn_state fp_flow_conn_state(const fp_flow *f);
/* flow_hints.c: look for TLS SNI, HTTP method/Host, DNS name/rcode in a packet. */
void fp_flow_hints_update(fp_flow *f, const fp_flow_packet *p, int forward);
/* The TLS facts of a whole (reassembled) ClientHello; they replace the one-packet SNI.
 * Returns -1 when the hints could not be allocated. */
int fp_flow_hints_set_tls(fp_flow *f, const char *sni, size_t sni_len, const char *alpn, size_t alpn_len,
                          const char *ja3, const char *ja4);
/* 1 when a packet going this way (swapped as in the packet) is the forward direction. */
static inline int fp_flow_is_forward(const fp_flow *f, int swapped) { return swapped == f->client_is_b; }

/* ---- flow_table.c ------------------------------------------------------- */
typedef struct {
    int bidirectional;
    int no_hints;              /* nothing hands flows out: records are cores (FP_FLOW_CORE_SIZE), no
                                  application hints are looked for and TCP flows keep no sequence
                                  state (fp_flow.tcp; endpoint states and closes are the same
                                  without it) */
    int64_t idle_timeout_ns;   /* <= 0: never */
    int64_t active_timeout_ns; /* <= 0: never */
    int64_t close_grace_ns;    /* FIN/RST flows are emitted this long after closing */
    uint64_t max_flows;        /* >= 1 */
    uint64_t max_memory;       /* the engine's budget (fp_budget.limit); 0 = no limit */
    fp_budget *budget;         /* the engine's, shared with its extension; NULL: the table's own */
    /* Sharding (shards >= 2): every table sees every packet (same clock, expiry order and
     * fragment table) but keeps only the flows whose key hashes to `shard`. */
    uint32_t shard, shards;
} fp_flow_config;

typedef struct {
    uint64_t packets, bytes, non_ip_packets, flows_created;
    uint64_t expired[FP_EXP_COUNT]; /* FP_EXP_EVICTED: max_flows or memory budget */
    uint64_t anomalies;             /* packets with a dissection anomaly */
    uint64_t fragments;             /* later (portless) fragments seen */
    uint64_t fragment_misses;       /* ... whose first fragment was not in the table */
    uint64_t max_flows_seen;
    uint64_t memory_bytes;          /* the budget's total now */
    uint64_t oom;                   /* allocation failures (flows dropped) */
    uint64_t bad_transport;         /* TCP/UDP packets whose header was unreadable: no flow */
    uint64_t time_reversals;        /* packets older than one before them */
    uint64_t reversal_risks;        /* sharded: expiry walks a reversal may have made differ */
} fp_flow_stats;

/* Called for each flow leaving the table (f->tcp already given back); it may take f->hints
 * and f->ext (set them to NULL). With cfg.no_hints f is a core record. */
typedef void (*fp_flow_emit_fn)(void *ctx, fp_flow *f);
/* Extension: called after each packet's record update (forward: client -> server), and to
 * free an ext the emit callback left behind. */
typedef void (*fp_flow_packet_fn)(void *ctx, fp_flow *f, const fp_flow_packet *p, int forward);
typedef void (*fp_flow_ext_free_fn)(void *ctx, void *ext);
/* Called each time the clock moves forward (every packet of every shard table with a later
 * time, and fp_flow_table_advance), after idle expiry: state kept by time elsewhere (DNS
 * transactions) expires in step. Its emissions are ordered by fp_flow_table_tick_position. */
typedef void (*fp_flow_tick_fn)(void *ctx, int64_t now_ns);

typedef struct fp_flow_table fp_flow_table;

fp_flow_table *fp_flow_table_new(const fp_flow_config *cfg, fp_flow_emit_fn emit, void *ctx);
void fp_flow_table_free(fp_flow_table *t);
void fp_flow_table_set_extension(fp_flow_table *t, fp_flow_packet_fn on_packet, fp_flow_ext_free_fn ext_free);
void fp_flow_table_set_tick(fp_flow_table *t, fp_flow_tick_fn tick);
/* Inside the tick callback: the order of the next emission is its `position` (an input
 * position, the same in every shard) among the tick's emissions at this packet. */
void fp_flow_table_tick_position(fp_flow_table *t, uint64_t position);
/* Dissect-level entry point: one record. */
void fp_flow_table_add(fp_flow_table *t, const uint8_t *data, const fp_dissection *d,
                       int64_t ts_ns, uint32_t wirelen);
/* A packet fp_flow_key_pass gave to this shard's table: fp_flow_table_add without hashing
 * its shard again. */
void fp_flow_table_add_own(fp_flow_table *t, const uint8_t *data, const fp_dissection *d, int64_t ts_ns,
                           uint32_t wirelen);
/* Move "now" forward without a packet (a quiet live capture): expires idle flows. */
void fp_flow_table_advance(fp_flow_table *t, int64_t now_ns);
/* Another shard's packet, found by the key pass (fp_flow_key_pass) without dissecting it:
 * what fp_flow_table_add would do with it in this table: counters, clock and expiry. */
void fp_flow_table_skip(fp_flow_table *t, int64_t ts_ns, uint32_t wirelen);
/* n other shards' packets in a row, their times ts[0..n) (`in_order`: never earlier than
 * the one before), `bytes` on the wire in all: n calls of fp_flow_table_skip, in O(1) unless
 * one of them is earlier than the clock or reaches an expiry deadline. */
void fp_flow_table_skip_run(fp_flow_table *t, const int64_t *ts, uint32_t n, uint64_t bytes, int in_order);
/* Emit every flow still in the table (expiration 'end', or fin/rst when closing). */
void fp_flow_table_flush(fp_flow_table *t);
/* The same for at most `max` flows (oldest first); returns the flows left. */
uint64_t fp_flow_table_flush_some(fp_flow_table *t, uint64_t max);

const fp_flow_stats *fp_flow_table_stats(const fp_flow_table *t);
/* The order key of the emission in progress (valid inside the emit and packet callbacks). */
fp_flow_order fp_flow_table_order(const fp_flow_table *t);
/* The least order key any later emission of the table can have: the next packet's, or
 * while flushing (oldest flow first) the oldest flow's; (UINT64_MAX, UINT64_MAX) once empty. */
fp_flow_order fp_flow_table_bound(const fp_flow_table *t);
/* Sharded tables: the input positions at which this shard created flows, ascending (a flow's
 * id in the single-table run is its rank among every shard's creations). */
const uint64_t *fp_flow_table_creations(const fp_flow_table *t, uint64_t *n);
/* A live shard handed its creations to the merge: the table keeps only those made after. */
void fp_flow_table_creations_taken(fp_flow_table *t);
uint64_t fp_flow_table_count(const fp_flow_table *t);

#endif
