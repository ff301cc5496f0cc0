/* tshark's -z statistics in one pass over dissected records: the protocol hierarchy
 * (io,phs), conversations and endpoints of eth/ip/ipv6/tcp/udp (conv, endpoints), frames
 * and bytes per interval with per-column display filters (io,stat), DNS and HTTP trees
 * (dns,tree, http,tree). Python-free; every table is bounded: growth is charged to an
 * fp_budget and what its limit (or a fixed table size) refuses is counted, never dropped
 * silently. */
#ifndef FP_STATS_H
#define FP_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "../dissect/dissect.h"
#include "../filter/filter.h"
#include "../flow/budget.h"

/* Protocol names of the hierarchy, as tshark's io,phs spells them. */
#define FP_PHS_PROTOCOLS(X)                                                         \
    X(ETH, "eth") X(SLL, "sll") X(NULL_LINK, "null") X(LOOP, "loop") X(PPP, "ppp")    \
    X(RAW, "raw") X(VLAN, "vlan") X(QINQ, "ieee8021ad") X(ARP, "arp") X(IP, "ip")     \
    X(IPV6, "ipv6") X(TCP, "tcp") X(UDP, "udp") X(ICMP, "icmp") X(ICMPV6, "icmpv6")  \
    X(DNS, "dns") X(MDNS, "mdns") X(LLMNR, "llmnr") X(HTTP, "http") X(TLS, "tls") X(QUIC, "quic") X(DATA, "data") \
    X(PPPOES, "pppoes") X(PPPOED, "pppoed") X(LCP, "lcp") X(IPCP, "ipcp") X(IPV6CP, "ipv6cp") X(PAP, "pap")  \
    X(CHAP, "chap") X(CCP, "ccp") X(COMP_DATA, "comp_data") X(GRE, "gre") X(CMD, "cmd") X(ERSPAN, "erspan") \
    X(VXLAN, "vxlan") X(GENEVE, "geneve") X(GTP, "gtp") X(MPLS, "mpls") X(PWETH_CW, "pweth.cw") X(PWETHCW, "pwethcw") \
    X(CDP, "cdp") X(FR, "fr") X(NSH, "nsh") X(WLAN, "wlan") X(IPX, "ipx")
#define FP_PHS_ENUM(name, str) FP_PHS_##name,
enum { FP_PHS_PROTOCOLS(FP_PHS_ENUM) FP_PHS_COUNT };
#undef FP_PHS_ENUM
extern const char *const fp_phs_names[FP_PHS_COUNT];

#define FP_PHS_MAX_NODES 4096 /* distinct protocol paths kept; frames of others: phs_cut */
#define FP_PHS_MAX_DEPTH 64 /* deeper paths (labels and tunnels nested): phs_cut */

typedef struct {
    uint16_t parent; /* index of the parent node; the root (index 0) is the frame */
    uint8_t proto;   /* FP_PHS_* */
    uint8_t depth;   /* 1 for the outermost protocol */
    uint16_t first_child, next_sibling; /* 0: none (the root is never a child) */
    uint64_t frames, bytes;
} fp_phs_node;

enum { FP_CONV_ETH, FP_CONV_IP, FP_CONV_IPV6, FP_CONV_TCP, FP_CONV_UDP, FP_CONV_LAYERS };
extern const char *const fp_conv_layer_names[FP_CONV_LAYERS];

/* One conversation; A is the sender of its first packet (tshark's). */
typedef struct {
    uint8_t a[16], b[16];
    uint16_t port_a, port_b;
    uint8_t alen; /* 6 (MAC), 4 or 16 */
    uint8_t ip_version; /* TCP/UDP: 4 or 6 */
    uint64_t frames_ab, bytes_ab, frames_ba, bytes_ba;
    int64_t first_ns, last_ns;
} fp_conv;

typedef struct {
    fp_conv *rows;
    size_t n, cap;
    uint32_t *slots; /* open addressing: row index + 1, 0 = empty */
    size_t nslots;
    uint64_t cut_frames; /* packets of conversations the budget refused */
} fp_conv_table;

/* Repeated small keys (DNS types and classes, HTTP methods) with their counts. */
#define FP_STATS_MAX_KEYS 256
#define FP_STATS_METHOD_MAX 24
typedef struct {
    uint16_t n;
    uint16_t keys[FP_STATS_MAX_KEYS];
    uint64_t counts[FP_STATS_MAX_KEYS];
    uint64_t cut;
} fp_stats_counter;

typedef struct {
    uint64_t packets, queries, responses;
    uint64_t rcode[16], opcode[16];
    fp_stats_counter qtype, qclass; /* of the first question, as tshark counts them */
} fp_dns_tree;

typedef struct {
    uint64_t packets, requests, responses, other;
    uint16_t nmethods;
    char methods[FP_STATS_MAX_KEYS][FP_STATS_METHOD_MAX + 1];
    uint64_t method_counts[FP_STATS_MAX_KEYS];
    uint64_t methods_cut;
    uint64_t status[1000]; /* responses per status code (3 digits) */
} fp_http_tree;

/* Packets per name (the first DNS question's name, an HTTP message's Host value): an
 * open-addressing table of (hash, count, name) whose slots and name bytes are charged to
 * the budget; packets whose new name the budget refused are counted in `cut`. */
typedef struct {
    uint64_t hash, count; /* count 0: a free slot */
    uint32_t off, len;    /* the name in bytes[] */
} fp_name_slot;

typedef struct {
    fp_name_slot *slots;
    size_t cap, n; /* cap: a power of two, or 0 before the first name */
    uint8_t *bytes;
    size_t used, bytes_cap;
    uint64_t cut;
} fp_name_table;

typedef struct {
    int64_t interval_ns;            /* io,stat bucket width; 0: no io,stat */
    uint64_t max_intervals;         /* buckets io,stat may span (earlier/later: io_cut) */
    const fp_filter *const *filters; /* io,stat's per-column filters */
    size_t nfilters;
    fp_budget *budget;              /* charged for conversations and buckets; may be NULL */
} fp_stats_config;

typedef struct {
    fp_stats_config cfg;
    uint64_t frames, bytes;
    int64_t first_ns, last_ns;
    int seen;
    fp_phs_node phs[FP_PHS_MAX_NODES];
    uint16_t phs_n;
    uint64_t phs_cut;
    fp_conv_table conv[FP_CONV_LAYERS];
    /* io,stat: per bucket (base + i) and column c (0 = all frames, 1.. = filters):
     * io_frames[i * ncols + c], io_bytes likewise. */
    uint64_t *io_frames, *io_bytes;
    int64_t io_base;
    size_t io_n, io_cap;
    uint64_t io_cut;
    fp_dns_tree dns;
    fp_http_tree http;
    fp_name_table dns_names, http_hosts;
    uint64_t alloc_failures;
} fp_stats;

/* NULL when out of memory. The filters must outlive the stats. */
fp_stats *fp_stats_new(const fp_stats_config *cfg);
void fp_stats_free(fp_stats *st);
/* One record, already dissected; `number` is its frame.number (for filters). */
void fp_stats_add(fp_stats *st, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                  uint32_t linktype, int64_t ts_ns, int has_ts, uint64_t number,
                  const fp_dissection *d);

#endif
