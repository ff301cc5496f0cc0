/* Packet building: each protocol's field table (Scapy's names, defaults and auto fields)
 * and its serializer live next to its parser; build.c walks a stack of layers.
 *
 * A layer is a table (fp_bproto) plus values (fp_blayer). Fixed fields are written at
 * their place in the header from the table; the variable part (options, addresses, DNS
 * records, a raw load) is bytes the caller prepared. Auto fields (lengths, checksums,
 * next-protocol numbers, header lengths) are filled in when the caller left them unset,
 * inner layer first, like Scapy's post_build; a value the caller set is always written as
 * given (a wrong checksum on purpose stays wrong). Python-free. */
#ifndef FP_BUILD_H
#define FP_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "dissect.h"

/* Layer kinds a stack may hold: the dissector's ids where it has one, then the rest. */
typedef enum {
    FP_B_ETH = FP_L_ETH,
    FP_B_VLAN = FP_L_VLAN,
    FP_B_ARP = FP_L_ARP,
    FP_B_IP4 = FP_L_IP4,
    FP_B_IP6 = FP_L_IP6,
    FP_B_TCP = FP_L_TCP,
    FP_B_UDP = FP_L_UDP,
    FP_B_ICMP = FP_L_ICMP,
    FP_B_ICMP6_ECHO_REQ = FP_L_ICMP6,
    FP_B_DNS = FP_L_DNS,
    FP_B_RAW = FP_L_COUNT,
    FP_B_ICMP6_ECHO_REP,
    FP_B_IP6_HOP,
    FP_B_IP6_RT,
    FP_B_IP6_FRAG,
    FP_B_IP6_DEST,
    FP_B_COUNT
} fp_build_id;

enum {
    FP_BK_UINT = 0, /* bits of a big-endian word of `width` bytes at `off`, `shift` up */
    FP_BK_IP4,      /* 4 bytes at off */
    FP_BK_MAC,      /* 6 bytes at off */
    FP_BK_IP6,      /* 16 bytes at off, value in fp_blayer.a6[slot] */
    FP_BK_VAR,      /* the variable part (options, addresses, records, load): bytes */
};

enum {
    FP_BF_AUTO = 1,   /* unset: computed when built (None before) */
    FP_BF_NEXT = 2,   /* unset: from the payload's kind, else the default */
    FP_BF_ROUTE = 4,  /* unset: the caller resolves it (source address by route, clock) */
    FP_BF_HEX = 8,    /* shown in hex */
    FP_BF_TCPFLAGS = 16, /* TCP flag letters */
    FP_BF_IPFLAGS = 32,  /* IPv4 flag names MF, DF, evil */
    FP_BF_COND = 64,  /* present for some values of other fields only: the proto's write() */
};

typedef struct {
    const char *name;
    uint8_t kind;
    uint8_t flags;
    uint8_t off;
    uint8_t width; /* FP_BK_UINT: 1, 2 or 4 */
    uint8_t shift;
    uint8_t bits;
    uint8_t slot;  /* FP_BK_IP6: index into a6 */
    uint64_t dflt; /* UINT, IP4 and MAC as a big-endian number */
} fp_bfield;

/* Table rows: an unsigned field of `bits` at `shift` in the `width`-byte word at `off`;
 * an address; the variable part. */
#define FP_BU(name, flags, off, width, shift, bits, dflt) \
    {name, FP_BK_UINT, flags, off, width, shift, bits, 0, dflt}
#define FP_BA(name, kind, flags, off, slot, dflt) {name, kind, flags, off, 0, 0, 0, slot, dflt}
#define FP_BV(name) {name, FP_BK_VAR, 0, 0, 0, 0, 0, 0, 0}

#define FP_BUILD_MAX_FIELDS 24

struct fp_blayer;
struct fp_bctx;

typedef struct fp_bproto {
    const char *name;         /* Scapy's class name */
    uint8_t id;               /* fp_build_id */
    uint8_t hlen;             /* fixed header bytes */
    uint8_t nfields;
    uint8_t var_align;        /* the variable part is padded to this (0/1: not padded) */
    uint32_t var_max;         /* most variable bytes the header can describe */
    const fp_bfield *fields;
    /* Fixed header bytes when they depend on field values (ICMP), else NULL: hlen. */
    uint32_t (*hlen_of)(const struct fp_blayer *l);
    /* Write the FP_BF_COND fields of this layer's values. */
    void (*write)(const struct fp_blayer *l, uint8_t *h);
    /* The next-protocol value announcing a payload of kind `child`; 0 if none. */
    int (*next_value)(int child, uint64_t *v);
    /* Fill auto fields of layer i once everything inside it is written; -1 + message. */
    int (*finish)(struct fp_bctx *c, int i);
} fp_bproto;

typedef struct fp_blayer {
    const fp_bproto *p;
    uint32_t set;                      /* bit i: field i given by the caller */
    uint64_t v[FP_BUILD_MAX_FIELDS];   /* values; unset fields hold their default */
    uint8_t a6[2][16];
    const uint8_t *var;                /* variable part, before padding */
    uint32_t var_len;
    uint8_t var_unpadded;              /* the variable part as it is (parsed from a cut header) */
    const uint8_t *trailer;            /* bytes after this layer's payload (Ether padding) */
    uint32_t trailer_len;
    /* filled by fp_build_plan */
    uint32_t off, hlen, end;           /* header [off, off+hlen), payload to end */
} fp_blayer;

typedef struct fp_bctx {
    fp_blayer *L;
    int n;
    uint8_t *out;
    char err[200];
} fp_bctx;

static inline int fp_bset(const fp_blayer *l, int i) { return (l->set >> i) & 1u; }

/* Lay the stack out: header lengths, offsets, next-protocol fields; the total length,
 * or -1 with c->err naming the field that does not fit. */
int64_t fp_build_plan(fp_bctx *c);
/* Is field f present in this layer (FP_BF_COND fields depend on others)? */
int fp_bfield_present(const fp_blayer *l, int f);
/* Write the planned stack into c->out (the planned length) and fill the auto fields. */
int fp_build_write(fp_bctx *c);

int fp_build_err(fp_bctx *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Put the checksum over [off, end) of layer i (plus `initial`) at off + at, unless set. */
void fp_build_checksum(fp_bctx *c, int i, int field, uint32_t at, uint32_t initial, int zero_is_ffff);
/* The same for transport layer i, started from its pseudo header for `proto` (RFC 9293 3.1,
 * RFC 8200 8.1) as Scapy's in4_chksum/in6_chksum; left as written with no IP below. */
void fp_build_l4_checksum(fp_bctx *c, int i, uint8_t proto, int field, uint32_t at, int zero_is_ffff);

/* Tables, one per protocol file. */
extern const fp_bproto fp_bproto_ether, fp_bproto_vlan, fp_bproto_arp, fp_bproto_ip4, fp_bproto_ip6,
    fp_bproto_ip6_hop, fp_bproto_ip6_rt, fp_bproto_ip6_frag, fp_bproto_ip6_dest, fp_bproto_tcp,
    fp_bproto_udp, fp_bproto_icmp, fp_bproto_icmp6_req, fp_bproto_icmp6_rep, fp_bproto_dns,
    fp_bproto_raw;
/* The table of a layer kind, NULL when none. */
const fp_bproto *fp_bproto_of(int id);

/* ICMP (icmp.c): is field f of this layer's type present (Scapy's ConditionalFields)? */
int fp_icmp_field_present(const fp_blayer *l, int f);
/* TCP option (tcp.c): kind, then length and value unless NOP/EOL; bytes written or -1. */
int fp_tcp_option_put(uint8_t *out, size_t cap, uint8_t kind, const uint8_t *val, size_t len);
/* DNS (dns.c): a name in wire form without compression ("." is the root); bytes written or
 * -1 (a label over 63 bytes, the name over 255, no room). */
int fp_dns_name_put(uint8_t *out, size_t cap, const char *name, size_t len);

#endif
