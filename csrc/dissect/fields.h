/* Field registry: every field fastpkt dissects, named as Wireshark names it
 * (`tcp.srcport`, `dns.qry.name`), with its type and an accessor that reads the
 * value(s) from a record and its fp_dissection without allocating. Each protocol's
 * table lives next to its parser; fields.c looks names up. Used only on request
 * (field access, display filters): fp_dissect never touches it. Python-free. */
#ifndef FP_FIELDS_H
#define FP_FIELDS_H

#include <stdint.h>

#include "dissect.h"

typedef enum {
    FP_FT_UINT,     /* u: unsigned integer of `bits` width */
    FP_FT_BOOL,     /* u: 0 or 1 (a masked bit, or a derived truth) */
    FP_FT_IPV4,     /* u: the address, host order; p: its 4 bytes */
    FP_FT_IPV6,     /* p: 16 bytes */
    FP_FT_MAC,      /* p: 6 bytes */
    FP_FT_BYTES,    /* p, len */
    FP_FT_STRING,   /* p, len: not NUL-terminated */
    FP_FT_TIME,     /* u: nanoseconds since the epoch (int64 in two's complement) */
    FP_FT_PROTOCOL, /* p, len: the protocol's bytes (Wireshark's FT_PROTOCOL) */
} fp_field_type;

typedef struct {
    uint64_t u;
    const uint8_t *p; /* into the record, or into fp_field_ctx.text */
    uint32_t len;
} fp_field_value;

/* What an accessor reads: one record, its dissection, and scratch for decoded text. */
typedef struct {
    const uint8_t *data;
    uint32_t caplen, wirelen;
    /* frame.cap_len: caplen, but for a reassembled datagram's frame (data: the completing
     * fragment's headers and the whole payload) the fragment's as captured, as wirelen is */
    uint32_t frame_caplen;
    int64_t ts_ns;
    int has_ts; /* 0 for pcapng Simple Packet Blocks: no frame.time_epoch */
    uint64_t number; /* frame.number: 1-based position in the capture, 0 when unknown */
    const fp_dissection *d;
    char text[FP_DNS_NAME_MAX]; /* a decoded DNS name: valid during the visit */
} fp_field_ctx;

/* Called once per occurrence, outer to inner / in message order; nonzero stops. */
typedef int (*fp_field_visit)(void *arg, const fp_field_value *v);

typedef struct fp_field fp_field;
/* Visits each value of `f`; returns how many were visited. */
typedef int (*fp_field_each_fn)(const fp_field *f, fp_field_ctx *x, fp_field_visit visit,
                                void *arg);

struct fp_field {
    const char *name;  /* Wireshark's display-filter name */
    uint8_t type;      /* fp_field_type */
    uint8_t bits;      /* width of the word read (UINT, BOOL) */
    uint8_t layer;     /* fp_layer_id holding it */
    uint8_t arg;       /* accessor-specific: extension header type, record type... */
    uint16_t offset;   /* byte offset in the layer, for the fixed-offset readers */
    uint32_t mask;     /* bits of the word (value shifted down); 0: the whole word */
    fp_field_each_fn each;
};

typedef struct {
    const char *name; /* protocol name: the fields' prefix */
    const fp_field *fields;
    int count;
} fp_field_table;

/* Per-protocol tables, defined next to each parser. */
extern const fp_field_table fp_fields_frame, fp_fields_eth, fp_fields_vlan,
    fp_fields_ieee8021ad, fp_fields_sll, fp_fields_arp, fp_fields_ip, fp_fields_ipv6,
    fp_fields_tcp, fp_fields_udp, fp_fields_icmp, fp_fields_icmpv6, fp_fields_dns,
    fp_fields_mdns, fp_fields_llmnr,
    fp_fields_http, fp_fields_tls, fp_fields_quic, fp_fields_gre, fp_fields_cmd, fp_fields_erspan, fp_fields_vxlan,
    fp_fields_geneve, fp_fields_gtp, fp_fields_mpls, fp_fields_pppoe, fp_fields_pppoes, fp_fields_ppp, fp_fields_lcp,
    fp_fields_ipcp, fp_fields_ipv6cp, fp_fields_chap, fp_fields_pap, fp_fields_radiotap,
    fp_fields_wlan;

/* ---- Registry (fields.c) ---------------------------------------------- */
const fp_field *fp_field_lookup(const char *name);
/* The known name closest to `name` (edit distance), or NULL when none is close. */
const char *fp_field_suggest(const char *name);
/* All fields, in protocol order: i from 0 until NULL. */
const fp_field *fp_field_at(int i);
void fp_field_ctx_init(fp_field_ctx *x, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                       int64_t ts_ns, int has_ts, const fp_dissection *d);
static inline int fp_field_each(const fp_field *f, fp_field_ctx *x, fp_field_visit visit,
                                void *arg)
{
    return f->each(f, x, visit, arg);
}

/* ---- Shared accessors (fields.c), for the tables ------------------------ */
/* Where `layer`'s fields are read: the innermost packet's header, or for IPv4/IPv6 the
 * outermost IP header when a tunnel's inner packet has none of that kind; NULL when absent. */
const fp_span *fp_field_layer(const fp_dissection *d, int layer);
/* The word of `bits` at `offset` in the layer's header (whole message when hlen is 0). */
int fp_field_fixed(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg);
/* fp_field_fixed's read alone: 1 with *v filled, 0 when absent or cut. */
int fp_field_read_fixed(const fp_field *f, const fp_field_ctx *x, fp_field_value *v);
/* A length in 4-byte units (IPv4 IHL, TCP data offset), in bytes. */
int fp_field_length4(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg);
/* The layer's bytes, off..end. */
int fp_field_protocol(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg);
/* Read `f`'s word from p (bits/8 bytes available), mask and shift it; fills v. */
void fp_field_decode(const fp_field *f, const uint8_t *p, fp_field_value *v);
/* Emits the word at `offset` and the one at `offset + arg` (ip.addr, tcp.port, ...). */
int fp_field_pair(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg);

/* Table entries. */
#define FP_FIELD_UINT(name, layer, off, bits, mask) \
    {name, FP_FT_UINT, bits, layer, 0, off, mask, fp_field_fixed}
#define FP_FIELD_BOOL(name, layer, off, bits, mask) \
    {name, FP_FT_BOOL, bits, layer, 0, off, mask, fp_field_fixed}
#define FP_FIELD_ADDR(name, type, layer, off) {name, type, 32, layer, 0, off, 0, fp_field_fixed}
#define FP_FIELD_PROTO(name, layer) {name, FP_FT_PROTOCOL, 0, layer, 0, 0, 0, fp_field_protocol}
#define FP_FIELD_TABLE(var, proto, arr) \
    const fp_field_table var = {proto, arr, (int)(sizeof arr / sizeof arr[0])}

#endif
