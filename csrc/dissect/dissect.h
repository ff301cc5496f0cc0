/* Packet dissection: one pass over a record's bytes into a small table of
 * layer spans (offsets into the record, no copies) plus anomaly bits.
 * Python-free: used by the CPython bridge, the fuzzers and the C consumers. */
#ifndef FP_DISSECT_H
#define FP_DISSECT_H

#include <stddef.h>
#include <stdint.h>

#include "cursor.h"
#include "http.h"

/* Link types we decode (values from the tcpdump.org LINKTYPE_ registry). */
enum {
    FP_LINKTYPE_NULL = 0,
    FP_LINKTYPE_ETHERNET = 1,
    FP_LINKTYPE_PPP = 9,
    FP_LINKTYPE_PPP_HDLC = 50,
    FP_LINKTYPE_PPP_ETHER = 51,
    FP_LINKTYPE_RAW = 101,
    FP_LINKTYPE_IEEE802_11 = 105,
    FP_LINKTYPE_LOOP = 108,
    FP_LINKTYPE_ENC = 109,
    FP_LINKTYPE_LINUX_SLL = 113,
    FP_LINKTYPE_PFLOG = 117,
    FP_LINKTYPE_IEEE802_11_RADIOTAP = 127,
    FP_LINKTYPE_PPI = 192,
    FP_LINKTYPE_PPP_WITH_DIR = 204,
    FP_LINKTYPE_IPNET = 226,
    FP_LINKTYPE_IPV4 = 228,
    FP_LINKTYPE_IPV6 = 229,
    FP_LINKTYPE_NFLOG = 239,
    FP_LINKTYPE_LINUX_SLL2 = 276,
};

/* Layer ids; `present` holds bit (1u << id). Order is outer to inner. */
typedef enum {
    FP_L_ETH = 0,
    FP_L_SLL,   /* Linux cooked v1 */
    FP_L_SLL2,  /* Linux cooked v2 */
    FP_L_LOOP,  /* BSD NULL / LOOP */
    FP_L_RADIOTAP, /* radiotap capture header (hlen: its length) */
    FP_L_WLAN,  /* 802.11 MAC header (hlen: up to LLC/SNAP or the frame body) */
    FP_L_VLAN,  /* one or more 802.1Q / 802.1ad tags, see vlan[] */
    FP_L_ARP,
    FP_L_IP4,
    FP_L_IP6,
    FP_L_TCP,
    FP_L_UDP,
    FP_L_ICMP,
    FP_L_ICMP6,
    FP_L_DNS,
    FP_L_HTTP,
    FP_L_TLS,
    FP_L_COUNT
} fp_layer_id;

#define FP_HAS(d, id) (((d)->present >> (id)) & 1u)

/* Anomaly bits: what was wrong with a packet that was still delivered. */
enum {
    FP_ANOM_SNAPLEN = 1u << 0,        /* caplen < wirelen: a layer was cut by the snap length */
    FP_ANOM_LINK_TRUNC = 1u << 1,     /* link header shorter than its fixed size */
    FP_ANOM_VLAN_DEPTH = 1u << 2,     /* more tags than FP_MAX_VLAN (rest left undecoded) */
    FP_ANOM_ARP_TRUNC = 1u << 3,
    FP_ANOM_IP4_TRUNC = 1u << 4,      /* fewer bytes than the IPv4 header needs */
    FP_ANOM_IP4_BAD_IHL = 1u << 5,    /* IHL < 5 */
    FP_ANOM_IP4_BAD_LEN = 1u << 6,    /* total length < IHL*4, or > bytes present on the wire */
    FP_ANOM_IP6_TRUNC = 1u << 7,
    FP_ANOM_IP6_BAD_LEN = 1u << 8,    /* payload length beyond the frame */
    FP_ANOM_IP6_EXT = 1u << 9,        /* extension header chain truncated or too long */
    FP_ANOM_TCP_TRUNC = 1u << 10,
    FP_ANOM_TCP_BAD_OFF = 1u << 11,   /* data offset < 5 or past the segment */
    FP_ANOM_TCP_BAD_OPT = 1u << 12,   /* option length 0/1 or running past the header */
    FP_ANOM_UDP_TRUNC = 1u << 13,
    FP_ANOM_UDP_BAD_LEN = 1u << 14,   /* length field < 8 or > IP payload */
    FP_ANOM_ICMP_TRUNC = 1u << 15,
    FP_ANOM_DNS_MALFORMED = 1u << 16, /* counts/records run past the message */
    FP_ANOM_DNS_NAME = 1u << 17,      /* compression loop, forward pointer, too deep, too long */
    FP_ANOM_HTTP_MALFORMED = 1u << 18,
    FP_ANOM_TLS_MALFORMED = 1u << 19, /* a length inside the ClientHello exceeds its container */
    FP_ANOM_IP_FRAGMENT = 1u << 20,   /* non-first fragment: upper layers not decoded */
    FP_ANOM_DNS_POINTER_CHAIN = 1u << 21, /* a name over FP_DNS_NAME_HOPS hops, or the message's
                                             hop / label budget spent (decoding stopped) */
    FP_ANOM_TLS_RECORDS_CAPPED = 1u << 22, /* a ClientHello spread over more records of one
                                            * segment than the view reads (16) */
    /* IP reassembly (csrc/flow/ip_defrag.c), named as Zeek's weird.log names them. */
    FP_ANOM_FRAG_OVERLAP = 1u << 23,       /* fragment_overlap: overlapping bytes agree */
    FP_ANOM_FRAG_INCONSISTENT = 1u << 24,  /* fragment_inconsistency: overlapping bytes differ */
    FP_ANOM_FRAG_SIZE = 1u << 25,          /* fragment_size_inconsistency: ends disagree */
    FP_ANOM_FRAG_SMALL = 1u << 26,         /* excessively_small_fragment: MF set, under 64 bytes */
    FP_ANOM_FRAG_LARGE = 1u << 27,         /* excessively_large_fragment: ends past 64000 */
    FP_ANOM_FRAG_DF = 1u << 28,            /* fragment_with_DF */
    FP_ANOM_FRAG_PROTOCOL = 1u << 29,      /* fragment_protocol_inconsistency */
    FP_ANOM_FRAG_DROPPED = 1u << 30,       /* fragment_dropped: a reassembly limit dropped it
                                            * (memory cap, fragment count, past 65535) */
    FP_ANOM_TUNNEL = 1u << 31,             /* tunnel_malformed: an encapsulation header cut short,
                                            * or nested past FP_MAX_TUNNELS (left undecoded) */
    FP_ANOM_COUNT_BITS = 33
};
/* Past bit 31: outside the enum, whose constants must fit an int. */
#define FP_ANOM_PPP_CONTROL (UINT64_C(1) << 32) /* ppp_control_malformed: an LCP, IPCP, IPV6CP,
                                                 * CCP, CHAP or PAP length or option length that
                                                 * lies (tshark's malformed packet or warning) */

/* Stable snake_case names for anomaly bits, index = bit number. */
extern const char *const fp_anomaly_names[FP_ANOM_COUNT_BITS];

#define FP_MAX_VLAN 4
#define FP_MAX_IP6_EXT 8
#define FP_MAX_TUNNELS 4

/* Encapsulations decoded (tunnel.c); the layers after one are the inner packet's. */
typedef enum {
    FP_TUN_GRE = 1,    /* RFC 2784/2890; id: the key when present */
    FP_TUN_ERSPAN,     /* GRE 0x88BE (type I/II) or 0x22EB (III); id: the session id */
    FP_TUN_VXLAN,      /* RFC 7348, UDP 4789; id: VNI */
    FP_TUN_GENEVE,     /* RFC 8926, UDP 6081; id: VNI */
    FP_TUN_GTPU,       /* 3GPP TS 29.281, UDP 2152; id: TEID */
    FP_TUN_MPLS,       /* RFC 3032 label stack; id: the bottom label */
    FP_TUN_IPIP,       /* IP in IP (RFC 2003, RFC 4213 6in4, RFC 2473 4in6/6in6); no id */
    FP_TUN_PPPOE,      /* RFC 2516 session stage; id: the session id */
    FP_TUN_PPTP,       /* RFC 2637 enhanced GRE (version 1) carrying PPP; id: the call id */
    FP_TUN_COUNT
} fp_tunnel_type;

extern const char *const fp_tunnel_names[FP_TUN_COUNT]; /* "GRE", "VXLAN", ... */

/* The UDP ports VXLAN, Geneve and GTP-U are decoded on, for every dissection of the process
 * (defaults 4789, 6081, 2152): `n` ports with their FP_TUN_ type replace the table. 0, or -1
 * for a port 0, another type, or more than FP_TUNNEL_PORTS_MAX entries. */
#define FP_TUNNEL_PORTS_MAX 32
int fp_tunnel_ports_set(const uint16_t *ports, const uint8_t *types, int n);
/* 1 when either port is in that table (a UDP datagram there may be decapsulated). */
int fp_udp_tunnel_port(uint16_t sport, uint16_t dport);

typedef struct {
    uint8_t type;          /* fp_tunnel_type */
    uint8_t has_id;
    uint8_t inner_link;    /* the inner packet starts with Ethernet (TEB, VXLAN, ERSPAN...) */
    uint8_t outer_ip;      /* FP_L_IP4/FP_L_IP6 carrying it, or FP_L_COUNT (MPLS, PPPoE) */
    uint8_t outer_proto;   /* that IP header's upper protocol (47, 17, 4, 41...) */
    uint32_t id;
    uint32_t off, hlen;    /* the encapsulation header */
    uint32_t outer_present;/* layer bits of the packet around it (present before decoding it) */
} fp_tunnel;

typedef struct {
    uint32_t off;  /* first byte of the header */
    uint32_t hlen; /* header length (for DNS/HTTP/TLS: 0; the message runs off..end) */
    uint32_t end;  /* end of this layer's data (header + payload), within caplen */
} fp_span;

/* Bytes of a record a parser points at (a name, a value), as offsets into it. */
typedef struct {
    uint32_t off, len;
} fp_slice;

typedef struct {
    uint16_t tpid; /* 0x8100, 0x88a8, 0x9100 */
    uint16_t tci;  /* PCP(3) DEI(1) VID(12) */
} fp_vlan_tag;

typedef struct {
    uint8_t type; /* next-header value that introduced it: 0, 43, 44, 60, 51, ... */
    uint32_t off;
    uint32_t len;
} fp_ip6_ext;

typedef struct {
    uint64_t anomalies; /* FP_ANOM_* bits (first: no padding before the 32-bit fields) */
    uint32_t present;   /* layer bits */
    fp_span layer[FP_L_COUNT];
    fp_vlan_tag vlan[FP_MAX_VLAN];
    uint8_t vlan_count;
    uint8_t ip6_ext_count;
    fp_ip6_ext ip6_ext[FP_MAX_IP6_EXT];
    uint16_t ethertype; /* protocol after link + VLAN (0 when none) */
    uint8_t ip_version; /* 4, 6 or 0 */
    uint8_t ip_proto;   /* upper-layer protocol after IPv6 extension headers */
    uint16_t sport, dport; /* TCP/UDP ports, 0 otherwise */
    uint16_t frag_offset;  /* IPv4/IPv6 fragment offset in BYTES */
    uint8_t more_fragments;
    uint8_t is_fragment;   /* MF set or offset != 0 */
    uint8_t reassembled;   /* IP payload is a reassembled datagram (fp_dissect_datagram) */
    uint8_t fcs_len;       /* FP_DISSECT_FCS: FCS bytes captured at fcs_off, left out of the layers */
    uint8_t link_ppp;      /* the record is a PPP frame (link types 9, 50, 204): 1 + where it
                            * starts (after 204's direction byte), 0 otherwise */
    uint32_t fcs_off;
    uint32_t cmd_off;      /* Cisco MetaData after an Ethernet header (EtherType 0x8909): its
                            * first byte, 0 when none (fp_dissect_cmd) */
    uint32_t gre_off;      /* a GRE header read whole but not decapsulated (keepalives, CDP,
                            * other protocols): its first byte, 0 when none (fp_dissect_gre) */
    uint32_t payload_off;  /* innermost payload (after the last decoded header) */
    uint32_t payload_len;
    /* Tunnels, outer to inner: layer spans describe the innermost packet; the outermost
     * IP header is kept in outer_ip (FP_L_IP4/FP_L_IP6 in outer_ip_id, else FP_L_COUNT). */
    uint8_t tunnel_count;
    uint8_t outer_ip_id;
    fp_span outer_ip;
    fp_tunnel tunnel[FP_MAX_TUNNELS];
} fp_dissection;

/* Dissect `caplen` bytes of a record with the given link type. Never fails:
 * unknown link types give present == 0 and the whole record as payload.
 * `wirelen` only sets FP_ANOM_SNAPLEN. */
void fp_dissect(const uint8_t *data, uint32_t caplen, uint32_t wirelen, uint32_t linktype,
                fp_dissection *out);
/* With flags: FP_DISSECT_HEADERS stops at the transport header, no DNS, TLS or HTTP
 * detection (and none of their anomalies): what a reader of link/IP/transport fields needs
 * (display filters over header fields: DNS names are walked and TLS handshakes framed only
 * on demand). FP_DISSECT_NO_TUNNELS leaves encapsulations undecoded (decapsulate=False):
 * without it tunnel.c decodes them down to the innermost packet. FP_DISSECT_FCS(n): the
 * frames end with an n-byte frame check sequence (the record's fcs_len: pcapng if_fcslen);
 * as tshark, an Ethernet frame is read without it (its lengths shortened by n, snapped or
 * not) and eth.fcs reads it when captured whole; other link types ignore it, as tshark
 * does. FP_DISSECT_SCAPY follows Scapy's bindings where they leave undecoded what Wireshark
 * decodes (fastpkt.scapy's packets): after a Linux cooked header, 0x88a8 (Scapy binds
 * Dot1AD there on a `type` field the header lacks, so its payload stays Raw). fp_dissect is
 * flags 0. */
enum { FP_DISSECT_HEADERS = 1, FP_DISSECT_NO_TUNNELS = 2, FP_DISSECT_SCAPY = 4 };
#define FP_DISSECT_FCS_SHIFT 8
#define FP_DISSECT_FCS(n) ((int)(n) << FP_DISSECT_FCS_SHIFT)
#define FP_DISSECT_FCS_MASK FP_DISSECT_FCS(0xFF)
void fp_dissect_ex(const uint8_t *data, uint32_t caplen, uint32_t wirelen, uint32_t linktype, int flags,
                   fp_dissection *out);

/* The same for a frame whose IP header (its fragment's, as captured) is followed by the
 * whole reassembled payload (csrc/flow/ip_defrag.c): the IP payload runs to the end of the
 * data and upper layers are decoded whatever the header's offset and lengths say. */
void fp_dissect_datagram(const uint8_t *data, uint32_t len, uint32_t linktype, int flags, fp_dissection *out);
/* What fp_dissect_ex(flags) finds for a record that `outer`, its dissection with
 * FP_DISSECT_NO_TUNNELS (flags otherwise the same), left undecoded at an encapsulation (GRE,
 * IP in IP, a UDP tunnel port, MPLS, a PPPoE session): *out starts as a copy of *outer and only
 * the encapsulation and what it carries are dissected, not the headers before it again. 0 when
 * done; -1 (*out untouched) when outer has no such place or was not dissected that way alone
 * (FCS, a reassembled datagram, a fragment): dissect the record whole. */
int fp_dissect_tunnels(const uint8_t *data, uint32_t caplen, uint32_t wirelen, uint32_t linktype, int flags,
                       const fp_dissection *outer, fp_dissection *out);

/* ---- The shard key pass (keypass.c) ----------------------------------- */
/* What a flow key is made of, read from a plain TCP/UDP packet's first bytes without a
 * dissection: 0 when fp_dissect_ex(flags) would find these very layers (no tunnel, no
 * fragment, no IPv6 extension header, a whole transport header), else -1 (dissect it). */
typedef struct {
    const uint8_t *src, *dst;    /* into the record: 4 (IPv4) or 16 bytes */
    uint16_t sport, dport;
    uint16_t vlan;               /* the outer tag's id, 0xFFFF untagged */
    uint8_t version, proto;
} fp_key_fields;
int fp_dissect_key_fields(const uint8_t *data, uint32_t caplen, uint32_t linktype, int flags, fp_key_fields *k);

/* ---- Checksums (on demand) -------------------------------------------- */
/* Return 1 valid, 0 invalid, -1 cannot tell (truncated, fragment, zero UDP checksum). */
int fp_ip4_checksum_ok(const uint8_t *data, const fp_dissection *d);
int fp_l4_checksum_ok(const uint8_t *data, const fp_dissection *d); /* TCP, UDP, ICMP, ICMPv6 */
uint16_t fp_inet_checksum(const uint8_t *p, size_t len, uint32_t initial);

/* ---- IPv6 endpoints ---------------------------------------------------- */
/* The addresses a conversation is really between (IPv6 layer present): the final
 * destination of a routing header with segments left (RFC 8200 8.1) and the Home
 * Address option's address (RFC 6275 6.3); else the fixed header's. */
const uint8_t *fp_ip6_final_dst(const uint8_t *data, const fp_dissection *d);
const uint8_t *fp_ip6_home_src(const uint8_t *data, const fp_dissection *d);

/* ---- Link types registered at run time (link.c) -------------------------- */
/* What follows a registered link type's fixed header: IPv4, IPv6, either by the version
 * nibble, an Ethernet frame, or the protocol a big-endian EtherType in the header names. */
enum { FP_LINK_NEXT_IP4 = 1, FP_LINK_NEXT_IP6, FP_LINK_NEXT_IP, FP_LINK_NEXT_ETHER, FP_LINK_NEXT_ETHERTYPE };
#define FP_LINK_RULES_MAX 64
#define FP_LINK_RULE_HEADER_MAX 16383u /* header length and EtherType offset: 14 bits each */
/* Decode `linktype` (one fastpkt does not decode itself) by the rule, for every reader,
 * engine and filter of the process; a second call for it replaces the rule. 0, or -1 when
 * FP_LINK_RULES_MAX link types are registered already. The caller checks the ranges
 * (header_len <= FP_LINK_RULE_HEADER_MAX, ethertype_off + 2 <= header_len). */
int fp_link_rule_set(uint32_t linktype, int next, uint32_t header_len, uint32_t ethertype_off);
/* 1 when fastpkt decodes `linktype` itself (no rule may replace it). */
int fp_linktype_builtin(uint32_t linktype);

/* ---- 802.11 (wlan.c) --------------------------------------------------- */
/* The offset of radiotap field `bit` (0..17) of the first presence word in the radiotap
 * header p[0..len), aligned as radiotap.org defines; -1 when absent or past len. */
int fp_radiotap_field(const uint8_t *p, uint32_t len, unsigned bit);
/* Wireshark's name for an 802.11 frame's type/subtype ((type << 4) | subtype), or NULL. */
const char *fp_wlan_frame_name(unsigned type_subtype);
/* The address playing `role` in the MAC header hdr[0..hlen), as Wireshark assigns the
 * roles (by the DS bits in data frames), or NULL when the frame has none. */
enum { FP_WLAN_RA, FP_WLAN_TA, FP_WLAN_DA, FP_WLAN_SA, FP_WLAN_BSSID, FP_WLAN_STAA };
const uint8_t *fp_wlan_addr(const uint8_t *hdr, uint32_t hlen, int role);

/* ---- Address text ----------------------------------------------------- */
/* inet_ntop's text, written to `out` without a NUL; return its length. */
#define FP_IP4_TEXT_MAX 15 /* "255.255.255.255" */
#define FP_IP6_TEXT_MAX 45 /* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" */
size_t fp_ip4_text(const uint8_t *a, char *out);
size_t fp_ip6_text(const uint8_t *a, char *out);

/* ---- TCP options ------------------------------------------------------ */
typedef struct {
    uint8_t kind;
    uint8_t len;   /* total option length including kind/len (1 for NOP/EOL) */
    uint32_t off;  /* offset of the option's kind byte in the record */
} fp_tcp_option;
/* Fill up to `cap` options; returns the number found. Sets *bad on malformed options. */
int fp_tcp_options(const uint8_t *data, const fp_dissection *d, fp_tcp_option *opts, int cap,
                   int *bad);

/* ---- DNS (RFC 1035, 2782, 3596) --------------------------------------- */
/* A DNS message: `msg` points at the DNS header (after the TCP length prefix). */
typedef struct {
    uint16_t id, flags, qdcount, ancount, nscount, arcount;
} fp_dns_header;

#define FP_DNS_NAME_MAX 1024 /* presentation form with escapes, always NUL-terminated */

typedef enum { FP_DNS_QD = 0, FP_DNS_AN, FP_DNS_NS, FP_DNS_AR } fp_dns_section;

typedef struct {
    fp_dns_section section;
    char name[FP_DNS_NAME_MAX];
    uint16_t type, rclass;
    uint32_t ttl;         /* 0 for questions */
    uint32_t rdata_off;   /* offset of rdata within msg */
    uint16_t rdlength;
} fp_dns_record;

/* Work on names is bounded per name and per message (after Wireshark, which stops a name
 * once it has followed as many pointers as the message has bytes, and Suricata, which
 * stops at 255 label segments): a name follows at most FP_DNS_NAME_MAX_HOPS pointers and
 * is flagged past FP_DNS_NAME_HOPS; a message's names together follow at most
 * FP_DNS_MSG_HOPS + len/4 pointers and read FP_DNS_MSG_LABEL_BYTES + 4*len label bytes.
 * Real compression needs one pointer per name and about one label byte per message byte. */
#define FP_DNS_NAME_MAX_HOPS 64
#define FP_DNS_NAME_HOPS 16
#define FP_DNS_MSG_HOPS 64u
#define FP_DNS_MSG_LABEL_BYTES 1024u

typedef struct {
    const uint8_t *msg;
    uint32_t len;
    fp_dns_header hdr;
    uint32_t pos;      /* next record offset */
    int section;       /* current section */
    uint32_t left;     /* records left in current section */
    int error;         /* set when a record could not be decoded: iteration stops */
    uint32_t flags;    /* anomalies that did not stop iteration (FP_ANOM_DNS_POINTER_CHAIN) */
    uint32_t hops_left, label_left; /* the message's name budget */
} fp_dns_iter;

/* Returns 0 if a 12-byte header is present. */
int fp_dns_iter_init(fp_dns_iter *it, const uint8_t *msg, uint32_t len);
/* Returns 1 with *rec filled, 0 at the end, -1 on a malformed record (it->error set). */
int fp_dns_iter_next(fp_dns_iter *it, fp_dns_record *rec);
/* Format the rdata of a record for display/rdata access (A, AAAA as text; names for
 * CNAME/NS/PTR; "pref name" for MX; SOA/SRV fields; TXT strings). Returns length
 * written or -1 when the rdata is malformed. Unknown types return -2 (use raw bytes). */
int fp_dns_rdata_text(const uint8_t *msg, uint32_t len, const fp_dns_record *rec, char *out,
                      size_t outcap);
/* The offset past the records the header's counts announce, UINT32_MAX where one of them
 * cannot be read (bytes after it: a second message, padding, a covert channel). */
uint32_t fp_dns_records_end(const uint8_t *msg, uint32_t len);
/* The DNS message within a dissected packet: sets *msg and *len; 0 ok, -1 none. */
int fp_dns_message(const uint8_t *data, const fp_dissection *d, const uint8_t **msg,
                   uint32_t *len);

/* ---- HTTP/1.x (RFC 9112), one segment --------------------------------- */
typedef struct {
    fp_http_start_line start;          /* spans are record offsets */
    uint32_t anomalies;                /* FP_HTTP_A bits (http.h) */
    size_t header_count;
    int headers_complete;              /* CRLFCRLF seen within the segment */
    uint32_t body_off;                 /* when headers_complete */
    fp_http_header headers[FP_HTTP_MAX_HEADERS];
} fp_http_message;
/* Parse the HTTP start line and headers found in the packet's TCP payload (http.h's head
 * parser). Returns 0 on success, -1 when the payload holds no complete start line. */
int fp_http_parse(const uint8_t *data, const fp_dissection *d, fp_http_message *m);

/* ---- Internal: shared between the dissector files, not for the bridge -- */
/* Invariant kept for every present layer: off <= off + hlen <= end <= caplen. */
typedef struct {
    const uint8_t *data;
    uint32_t caplen;
    uint32_t wirelen;
    fp_dissection *d;
    int no_app;      /* FP_DISSECT_HEADERS: skip application detection */
    int reassembled; /* fp_dissect_datagram: the IP payload is whole, to the end */
    int tunnels;     /* decode encapsulations (no FP_DISSECT_NO_TUNNELS) */
    int scapy;       /* FP_DISSECT_SCAPY */
} fp_dctx;

/* The innermost IP header a record has: the inner packet's, else the one around the innermost
 * tunnel that has one, when the tunnels carry no IP packet (PPTP's LCP, a GRE keepalive, VXLAN
 * carrying ARP): tshark's last ip.src, the rule tables and flows share. FP_L_IP4 or FP_L_IP6,
 * its header whole at d->layer[id] (nothing decoded after that tunnel sets an IP layer), or
 * FP_L_COUNT; *proto its upper protocol. */
static inline int fp_innermost_ip(const fp_dissection *d, uint8_t *proto)
{
    *proto = d->ip_proto;
    if (FP_HAS(d, FP_L_IP4)) return FP_L_IP4;
    if (FP_HAS(d, FP_L_IP6)) return FP_L_IP6;
    for (int k = d->tunnel_count - 1; k >= 0; k--) {
        const fp_tunnel *t = &d->tunnel[k];
        if (t->outer_ip == FP_L_COUNT) continue;
        const fp_span *s = &d->layer[t->outer_ip];
        if (s->end - s->off < (t->outer_ip == FP_L_IP4 ? 20u : 40u)) return FP_L_COUNT;
        *proto = t->outer_proto;
        return t->outer_ip;
    }
    return FP_L_COUNT;
}

/* The transport of that rule: for a frame with no inner IP header, the UDP header around the
 * tunnel whose IP header fp_innermost_ip chose (VXLAN carrying ARP, Geneve carrying LLDP), as
 * tshark's last udp.srcport and its conv,udp read it. 1 with *sport and *dport, else 0 (an
 * inner IP header, no tunnel, or a tunnel not over UDP: GRE, IP in IP); a frame with one costs
 * the test of tunnel_count. */
static inline int fp_tunnel_udp_ports(const uint8_t *data, const fp_dissection *d, uint16_t *sport,
                                      uint16_t *dport)
{
    if (d->tunnel_count == 0 || (d->present & ((1u << FP_L_IP4) | (1u << FP_L_IP6)))) return 0;
    for (int k = d->tunnel_count - 1; k >= 0; k--) {
        const fp_tunnel *t = &d->tunnel[k];
        if (t->outer_ip == FP_L_COUNT) continue;
        /* no inner IP was decoded after it, so the UDP span is still the one around it */
        if (!(t->outer_present & (1u << FP_L_UDP))) return 0;
        const fp_span *ip = &d->layer[t->outer_ip];
        if (ip->end - ip->off < (t->outer_ip == FP_L_IP4 ? 20u : 40u)) return 0;
        const uint8_t *u = data + d->layer[FP_L_UDP].off;
        *sport = (uint16_t)(u[0] << 8 | u[1]);
        *dport = (uint16_t)(u[2] << 8 | u[3]);
        return 1;
    }
    return 0;
}

static inline void fp_set_layer(fp_dissection *d, fp_layer_id id, uint32_t off, uint32_t hlen,
                                uint32_t end)
{
    d->present |= 1u << id;
    d->layer[id].off = off;
    d->layer[id].hlen = hlen;
    d->layer[id].end = end;
}
static inline void fp_set_payload(fp_dissection *d, uint32_t off, uint32_t end)
{
    d->payload_off = off;
    d->payload_len = end > off ? end - off : 0;
}
/* A header at data[off..end): 0 with `c` on it when `min` bytes are there; else -1 with
 * `trunc` (FP_ANOM_* bits, or 0) flagged and the bytes left as payload. */
static inline int fp_header_open(fp_dctx *x, uint32_t off, uint32_t end, uint32_t min,
                                 uint64_t trunc, fp_cursor *c)
{
    *c = fp_cursor_make(x->data, end);
    c->ptr += off;
    if (fp_cur_has(c, min))
        return 0;
    x->d->anomalies |= trunc;
    fp_set_payload(x->d, off, end);
    return -1;
}
/* One option of an IPv4 or TCP option list (RFC 791 3.1, RFC 9293 3.1): EOL (0) and NOP
 * (1) are one byte, any other kind has a length >= 2 that covers it. 1 with *opt (its kind
 * byte) and *len set, 0 at the end of the list, -1 at a length that does not fit. */
static inline int fp_option_next(fp_cursor *c, const uint8_t **opt, uint8_t *len)
{
    uint8_t kind;
    *opt = c->ptr;
    if (fp_get_u8(c, &kind) != 0)
        return 0;
    *len = 1;
    if (kind <= 1)
        return 1;
    if (fp_get_u8(c, len) != 0 || *len < 2 || fp_skip(c, (size_t)*len - 2) != 0)
        return -1;
    return 1;
}
/* Where a layer ending at `end` would end on the wire (beyond caplen when snapped). */
static inline uint32_t fp_wire_end(const fp_dctx *x, uint32_t end)
{
    return (end == x->caplen && x->wirelen > x->caplen) ? x->wirelen : end;
}

void fp_dissect_ethertype(fp_dctx *x, uint32_t off, uint32_t end, uint16_t type); /* link.c */
void fp_dissect_arp(fp_dctx *x, uint32_t off, uint32_t end);
/* wlan.c: an 802.11 frame at off..end; the radiotap and PPI link types around one. */
void fp_dissect_wlan(fp_dctx *x, uint32_t off, uint32_t end);
void fp_dissect_radiotap(fp_dctx *x);
void fp_dissect_ppi(fp_dctx *x);
/* loghdr.c: capture headers of packet filters and loggers, skipped to the IP packet. */
void fp_dissect_pflog(fp_dctx *x);
void fp_dissect_enc(fp_dctx *x);
void fp_dissect_ipnet(fp_dctx *x);
void fp_dissect_nflog(fp_dctx *x);
void fp_dissect_ip4(fp_dctx *x, uint32_t off, uint32_t end);
void fp_dissect_ip6(fp_dctx *x, uint32_t off, uint32_t end);
void fp_dissect_l4(fp_dctx *x, uint8_t proto, uint32_t off, uint32_t end); /* ipv4.c */
/* tunnel.c: an encapsulated packet at off..end. Each returns 1 when it decoded the
 * encapsulation (inner layers set), 0 when the bytes are not one (nothing changed). */
int fp_dissect_gre(fp_dctx *x, uint32_t off, uint32_t end);
int fp_dissect_ip_in_ip(fp_dctx *x, uint8_t proto, uint32_t off, uint32_t end);
int fp_dissect_udp_tunnel(fp_dctx *x, uint16_t sport, uint16_t dport, uint32_t off, uint32_t end);
int fp_dissect_mpls(fp_dctx *x, uint32_t off, uint32_t end);
int fp_dissect_pppoe(fp_dctx *x, uint32_t off, uint32_t end);
/* A PPP frame at off..end (PPTP's, the PPP link types'): its IPv4 or IPv6 packet decoded,
 * other protocols (LCP, IPCP...) the payload. Returns the PPP header's length (HDLC bytes and
 * protocol), 0 when the protocol is cut short (nothing set). Not a tunnel: always decoded. */
uint32_t fp_dissect_ppp(fp_dctx *x, uint32_t off, uint32_t end);
/* Where a PPP frame at off..end has its protocol (after HDLC's 0xFF 0x03, RFC 1662), and that
 * protocol's width (1 when compressed: an odd first byte, RFC 1661 section 2), 0 when cut. */
static inline uint32_t fp_ppp_proto_at(const uint8_t *data, uint32_t off, uint32_t end, uint32_t *width)
{
    uint32_t at = end - off >= 2 && data[off] == 0xff && data[off + 1] == 0x03 ? off + 2 : off;
    *width = at < end && (data[at] & 1) ? 1 : end - at >= 2 ? 2 : 0;
    return at;
}
/* The control or authentication protocol a PPP frame's protocol word names, as tshark's
 * frame.protocols names it upper-cased ("LCP", "IPCP", "IPV6CP", "CCP", "CHAP", "PAP"), or
 * NULL (IP and the others). */
static inline const char *fp_ppp_control_name(uint16_t proto)
{
    switch (proto) {
    case 0xc021: return "LCP";
    case 0x8021: return "IPCP";
    case 0x8057: return "IPV6CP";
    case 0x80fd: return "CCP";
    case 0xc223: return "CHAP";
    case 0xc023: return "PAP";
    default: return NULL;
    }
}
/* PPP's control protocols, as the views and the option rules (tunnel.c) number them. */
enum { FP_PPP_LCP = 1, FP_PPP_IPCP, FP_PPP_IPV6CP, FP_PPP_CCP };
/* The first PPP frame of a dissected record, outer to inner (the link type's, each PPPoE
 * session's within its length, each PPTP one's), that carries control protocol `cp` with its
 * 4-byte header captured: 1, with where its packet starts and its frame ends; else 0. */
int fp_ppp_control_find(const fp_dissection *d, const uint8_t *data, uint32_t caplen, int cp, uint32_t *at,
                        uint32_t *end);
/* An option's length as the fields read its value (1 allowed, 0 not, -1 no rule for the
 * type), and whether an option captured whole is one ppp_control_malformed flags. */
int fp_ppp_option_fits(int cp, uint8_t type, uint8_t len);
int fp_ppp_option_lies(int cp, const uint8_t *opt, uint8_t len);
/* Where the Cisco MetaData shim of the GRE header left undecoded (d->gre_off, protocol
 * 0x8909) starts when any of its 8 bytes is captured (cut short, or carrying a protocol GRE
 * does not decapsulate), else 0. */
uint32_t fp_gre_cmd_off(const uint8_t *data, uint32_t caplen, const fp_dissection *d);
/* The length of the headers of Frame Relay (GRE protocol 0x6559) or NSH (0x894F) at off..end
 * before the packet they carry, whose EtherType goes to *type (NSH: Ethernet 0x6558, MPLS
 * 0x8847 too); 0 when they carry a protocol fastpkt does not decode (or nothing: tshark reads
 * no more), -1 when the bytes end inside their headers or before an NLPID's packet (tshark's
 * malformed packet). */
int fp_gre_carrier(const uint8_t *p, uint32_t off, uint32_t end, uint16_t proto, uint16_t *type);
/* Cisco MetaData after EtherType 0x8909 at off..end, then the protocol it names. */
void fp_dissect_cmd(fp_dctx *x, uint32_t off, uint32_t end);
void fp_dissect_tcp(fp_dctx *x, uint32_t off, uint32_t end);
void fp_dissect_udp(fp_dctx *x, uint32_t off, uint32_t end);
void fp_dissect_icmp(fp_dctx *x, fp_layer_id id, uint32_t off, uint32_t end);
/* fp_dissect_l4 with TCP and UDP, most packets, called without its frame and jump table. */
static inline void fp_dissect_l4_direct(fp_dctx *x, uint8_t proto, uint32_t off, uint32_t end)
{
    if (proto == 6) fp_dissect_tcp(x, off, end);
    else if (proto == 17) fp_dissect_udp(x, off, end);
    else fp_dissect_l4(x, proto, off, end);
}
/* DNS message at off..end: sets FP_L_DNS and validates (anomalies) when `validate`. */
void fp_dissect_dns(fp_dctx *x, uint32_t off, uint32_t end, int validate);
/* Cheap prefix checks used for port-independent detection on TCP payloads. */
int fp_http_plausible(const uint8_t *p, uint32_t len);
/* Full checks run once at dissection time on detected layers (set anomaly bits). */
int fp_http_start_line_ok(const uint8_t *p, uint32_t len);

#endif
