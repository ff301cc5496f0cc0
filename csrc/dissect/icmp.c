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
