/* ICMP (RFC 792) and ICMPv6 (RFC 4443 section 2.1): type, code, checksum and the
 * 4-byte rest-of-header word. The span's header is the 8 bytes (fewer when cut). */
#include "cursor.h"
#include "dissect.h"
#include "fields.h"

void fp_dissect_icmp(fp_dctx *x, fp_layer_id id, uint32_t off, uint32_t end)
{
    fp_dissection *d = x->d;
    fp_cursor c;
    if (fp_header_open(x, off, end, 4, FP_ANOM_ICMP_TRUNC, &c) < 0) /* type, code, checksum */
        return;
    uint32_t hlen = fp_cur_has(&c, 8) ? 8 : 4;
    if (hlen < 8)
        d->anomalies |= FP_ANOM_ICMP_TRUNC;
    fp_set_layer(d, id, off, hlen, end);
    fp_set_payload(d, off + hlen, end);
}

/* ---- Fields (Wireshark's icmp, icmpv6) --------------------------------- */

/* Identifier and sequence: ICMP echo, timestamp, information and address mask
 * messages (RFC 792, RFC 950); ICMPv6 echo (RFC 4443 4.1, 4.2). */
static int icmp_query_field(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    fp_field type = FP_FIELD_UINT("", f->layer, 0, 8, 0);
    fp_field_value t, v;
    if (!fp_field_read_fixed(&type, x, &t) || !fp_field_read_fixed(f, x, &v))
        return 0;
    int query = f->layer == FP_L_ICMP ? t.u == 0 || t.u == 8 || (t.u >= 13 && t.u <= 18)
                                      : t.u == 128 || t.u == 129;
    if (!query)
        return 0;
    visit(arg, &v);
    return 1;
}

static const fp_field icmp_fields[] = {
    FP_FIELD_PROTO("icmp", FP_L_ICMP),
    FP_FIELD_UINT("icmp.type", FP_L_ICMP, 0, 8, 0),
    FP_FIELD_UINT("icmp.code", FP_L_ICMP, 1, 8, 0),
    FP_FIELD_UINT("icmp.checksum", FP_L_ICMP, 2, 16, 0),
    {"icmp.ident", FP_FT_UINT, 16, FP_L_ICMP, 0, 4, 0, icmp_query_field},
    {"icmp.seq", FP_FT_UINT, 16, FP_L_ICMP, 0, 6, 0, icmp_query_field},
};
FP_FIELD_TABLE(fp_fields_icmp, "icmp", icmp_fields);

static const fp_field icmpv6_fields[] = {
    FP_FIELD_PROTO("icmpv6", FP_L_ICMP6),
    FP_FIELD_UINT("icmpv6.type", FP_L_ICMP6, 0, 8, 0),
    FP_FIELD_UINT("icmpv6.code", FP_L_ICMP6, 1, 8, 0),
    FP_FIELD_UINT("icmpv6.checksum", FP_L_ICMP6, 2, 16, 0),
    {"icmpv6.echo.identifier", FP_FT_UINT, 16, FP_L_ICMP6, 0, 4, 0, icmp_query_field},
    {"icmpv6.echo.sequence_number", FP_FT_UINT, 16, FP_L_ICMP6, 0, 6, 0, icmp_query_field},
};
FP_FIELD_TABLE(fp_fields_icmpv6, "icmpv6", icmpv6_fields);

/* ---- Building (build.h): Scapy's ICMP and ICMPv6 echo ------------------ */
#include "build.h"

enum { IC_TYPE, IC_CODE, IC_CHKSUM, IC_ID, IC_SEQ, IC_TS_ORI, IC_TS_RX, IC_TS_TX, IC_GW, IC_PTR,
       IC_RESERVED, IC_LENGTH, IC_ADDR_MASK, IC_NEXTHOPMTU, IC_UNUSED, IC_NFIELDS };

static int icmp_has_id_seq(uint64_t t)
{
    return t == 0 || t == 8 || (t >= 13 && t <= 18);
}

/* The words after the checksum depend on the type (RFC 792, 950, 1191, 4884), as in
 * Scapy's ConditionalFields. */
int fp_icmp_field_present(const fp_blayer *l, int f)
{
    uint64_t t = l->v[IC_TYPE];
    switch (f) {
    case IC_ID:
    case IC_SEQ: return icmp_has_id_seq(t);
    case IC_TS_ORI:
    case IC_TS_RX:
    case IC_TS_TX: return t == 13 || t == 14;
    case IC_GW: return t == 5;
    case IC_PTR: return t == 12;
    case IC_RESERVED: return t == 3 || t == 11;
    case IC_LENGTH: return t == 3 || t == 11 || t == 12;
    case IC_ADDR_MASK: return t == 17 || t == 18;
    case IC_NEXTHOPMTU: return t == 3;
    case IC_UNUSED: return !icmp_has_id_seq(t) && t != 3 && t != 5;
    default: return 1;
    }
}

static uint32_t icmp_hlen(const fp_blayer *l)
{
    uint64_t t = l->v[IC_TYPE];
    return t == 13 || t == 14 ? 20 : t == 17 || t == 18 ? 12 : 8;
}

static void put32(uint8_t *p, uint64_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void icmp_write(const fp_blayer *l, uint8_t *h)
{
    const uint64_t *v = l->v;
    uint64_t t = v[IC_TYPE];
    if (icmp_has_id_seq(t)) {
        put32(h + 4, v[IC_ID] << 16 | (v[IC_SEQ] & 0xffff));
        if (t == 13 || t == 14) {
            put32(h + 8, v[IC_TS_ORI]);
            put32(h + 12, v[IC_TS_RX]);
            put32(h + 16, v[IC_TS_TX]);
        }
        if (t == 17 || t == 18) put32(h + 8, v[IC_ADDR_MASK]);
    }
    else if (t == 5) put32(h + 4, v[IC_GW]);
    else if (t == 3) put32(h + 4, v[IC_RESERVED] << 24 | (v[IC_LENGTH] & 0xff) << 16 | (v[IC_NEXTHOPMTU] & 0xffff));
    else if (t == 11) put32(h + 4, v[IC_RESERVED] << 24 | (v[IC_LENGTH] & 0xff) << 16 | (v[IC_UNUSED] & 0xffff));
    else if (t == 12) put32(h + 4, v[IC_PTR] << 24 | (v[IC_LENGTH] & 0xff) << 16 | (v[IC_UNUSED] & 0xffff));
    else put32(h + 4, v[IC_UNUSED]);
}

static int icmp_finish(fp_bctx *c, int i)
{
    fp_build_checksum(c, i, IC_CHKSUM, 2, 0, 0);
    return 0;
}

static const fp_bfield icmp_bfields[] = {
    FP_BU("type", 0, 0, 1, 0, 8, 8),
    FP_BU("code", 0, 1, 1, 0, 8, 0),
    FP_BU("chksum", FP_BF_AUTO | FP_BF_HEX, 2, 2, 0, 16, 0),
    FP_BU("id", FP_BF_COND | FP_BF_HEX, 4, 2, 0, 16, 0),
    FP_BU("seq", FP_BF_COND | FP_BF_HEX, 6, 2, 0, 16, 0),
    FP_BU("ts_ori", FP_BF_COND | FP_BF_ROUTE, 8, 4, 0, 32, 0),
    FP_BU("ts_rx", FP_BF_COND | FP_BF_ROUTE, 12, 4, 0, 32, 0),
    FP_BU("ts_tx", FP_BF_COND | FP_BF_ROUTE, 16, 4, 0, 32, 0),
    FP_BA("gw", FP_BK_IP4, FP_BF_COND, 4, 0, 0),
    FP_BU("ptr", FP_BF_COND, 4, 1, 0, 8, 0),
    FP_BU("reserved", FP_BF_COND, 4, 1, 0, 8, 0),
    FP_BU("length", FP_BF_COND, 5, 1, 0, 8, 0),
    FP_BA("addr_mask", FP_BK_IP4, FP_BF_COND, 8, 0, 0),
    FP_BU("nexthopmtu", FP_BF_COND, 6, 2, 0, 16, 0),
    FP_BU("unused", FP_BF_COND, 4, 4, 0, 32, 0),
};
const fp_bproto fp_bproto_icmp = {"ICMP", FP_B_ICMP, 8, IC_NFIELDS, 0, 0, icmp_bfields, icmp_hlen,
                                  icmp_write, NULL, icmp_finish};

/* ICMPv6 (RFC 4443 2.3): the checksum covers the IPv6 pseudo header; zero without one. */
static int icmp6_finish(fp_bctx *c, int i)
{
    fp_build_l4_checksum(c, i, 58, 2, 2, 0);
    return 0;
}

#define ICMP6_ECHO_FIELDS(type)                                   \
    {                                                             \
        FP_BU("type", 0, 0, 1, 0, 8, type),                       \
        FP_BU("code", 0, 1, 1, 0, 8, 0),                          \
        FP_BU("cksum", FP_BF_AUTO | FP_BF_HEX, 2, 2, 0, 16, 0),   \
        FP_BU("id", FP_BF_HEX, 4, 2, 0, 16, 0),                   \
        FP_BU("seq", FP_BF_HEX, 6, 2, 0, 16, 0),                  \
        FP_BV("data"),                                            \
    }
static const fp_bfield icmp6_req_bfields[] = ICMP6_ECHO_FIELDS(128);
static const fp_bfield icmp6_rep_bfields[] = ICMP6_ECHO_FIELDS(129);
const fp_bproto fp_bproto_icmp6_req = {"ICMPv6EchoRequest", FP_B_ICMP6_ECHO_REQ, 8, 6, 0, 0xffff,
                                       icmp6_req_bfields, NULL, NULL, NULL, icmp6_finish};
const fp_bproto fp_bproto_icmp6_rep = {"ICMPv6EchoReply", FP_B_ICMP6_ECHO_REP, 8, 6, 0, 0xffff,
                                       icmp6_rep_bfields, NULL, NULL, NULL, icmp6_finish};
