/* IPv6 (RFC 8200 sections 3 and 4): fixed header, payload length, extension
 * header chain (hop-by-hop 0, routing 43, fragment 44, destination options 60,
 * mobility 135 per RFC 6275 section 6.1.1; AH 51 per RFC 4302 section 2.2 whose
 * length counts 4-byte units minus 2). A payload length of 0 with a hop-by-hop
 * header is a jumbogram (RFC 2675): the frame gives the length. */
#include "cursor.h"
#include "dissect.h"

static int is_ext_header(uint8_t nh)
{
    return nh == 0 || nh == 43 || nh == 44 || nh == 60 || nh == 51 || nh == 135;
}

static uint32_t ip6_end(fp_dctx *x, uint32_t off, uint32_t end, uint32_t plen, uint8_t nh)
{
    uint32_t avail = end - off - 40;
    if (plen == 0)
        return nh == 0 ? end : off + 40;
    if (plen > fp_wire_end(x, end) - off - 40)
        x->d->anomalies |= FP_ANOM_IP6_BAD_LEN;
    return plen < avail ? off + 40 + plen : end;
}

/* Headers beyond FP_MAX_IP6_EXT are skipped unrecorded (flagged ip6_ext) so the
 * upper layer is still found; the walk needs no cap of its own since every
 * header consumes at least 8 bytes. */

static int ext_fail(fp_dissection *d, uint8_t nh, uint32_t at, uint32_t end)
{
    d->anomalies |= FP_ANOM_IP6_EXT;
    d->ip_proto = nh;
    fp_set_payload(d, at, end);
    return -1;
}

/* Walk the extension headers from `off`; returns 0 to go on to the upper layer
 * at *off with protocol *nh, -1 to stop (payload already set). */
static int walk_ext(fp_dctx *x, uint32_t *off, uint32_t end, uint8_t *nh)
{
    fp_dissection *d = x->d;
    fp_cursor c = fp_cursor_make(x->data, end);
    c.ptr += *off;
    while (is_ext_header(*nh)) {
        if (!fp_cur_has(&c, 2))
            return ext_fail(d, *nh, fp_cur_off(&c), end);
        uint32_t units = fp_peek_u8(&c, 1);
        uint32_t len = *nh == 51 ? (units + 2) * 4 : *nh == 44 ? 8 : (units + 1) * 8;
        if (!fp_cur_has(&c, len))
            return ext_fail(d, *nh, fp_cur_off(&c), end);
        if (d->ip6_ext_count < FP_MAX_IP6_EXT) {
            fp_ip6_ext *e = &d->ip6_ext[d->ip6_ext_count++];
            e->type = *nh;
            e->off = fp_cur_off(&c);
            e->len = len;
        } else {
            d->anomalies |= FP_ANOM_IP6_EXT;
        }
        uint8_t next = fp_peek_u8(&c, 0);
        if (*nh == 44) {
            uint16_t fo = fp_peek_be16(&c, 2);
            d->frag_offset = fo & 0xfff8; /* 13-bit offset in 8-byte units, in place */
            d->more_fragments = fo & 1;
            d->is_fragment = d->more_fragments || d->frag_offset != 0; /* not atomic ones */
        }
        c.ptr += len;
        *nh = next;
        if (d->frag_offset != 0) { /* later fragment: the rest is not a header */
            d->ip_proto = next;
            d->anomalies |= FP_ANOM_IP_FRAGMENT;
            fp_set_payload(d, fp_cur_off(&c), end);
            return -1;
        }
    }
    *off = fp_cur_off(&c);
    return 0;
}

void fp_dissect_ip6(fp_dctx *x, uint32_t off, uint32_t end)
{
    fp_dissection *d = x->d;
    fp_cursor c = fp_cursor_make(x->data, end);
    c.ptr += off;
    d->ip_version = 6;
    if (!fp_cur_has(&c, 40)) {
        d->anomalies |= FP_ANOM_IP6_TRUNC;
        fp_set_payload(d, off, end);
        return;
    }
    uint8_t nh = fp_peek_u8(&c, 6);
    uint32_t ip_end = ip6_end(x, off, end, fp_peek_be16(&c, 4), nh);
    fp_set_layer(d, FP_L_IP6, off, 40, ip_end);
    d->ip_proto = nh;
    uint32_t l4 = off + 40;
    if (walk_ext(x, &l4, ip_end, &nh) != 0)
        return;
    d->ip_proto = nh;
    fp_dissect_l4(x, nh, l4, ip_end);
}

/* Mobile IPv6 (RFC 6275 6.3): a Home Address option in a destination options header
 * names the mobile node's home address, the packet's real source. Options were bounded
 * by the extension header span when the chain was walked. */
const uint8_t *fp_ip6_home_src(const uint8_t *data, const fp_dissection *d)
{
    const uint8_t *src = data + d->layer[FP_L_IP6].off + 8;
    for (int i = 0; i < d->ip6_ext_count; i++) {
        const fp_ip6_ext *e = &d->ip6_ext[i];
        if (e->type != 60 || e->len < 2)
            continue;
        fp_cursor c = fp_cursor_make(data, e->off + e->len);
        c.ptr += e->off + 2;
        uint8_t type, len;
        while (fp_get_u8(&c, &type) == 0) {
            if (type == 0) /* Pad1 */
                continue;
            if (fp_get_u8(&c, &len) || !fp_cur_has(&c, len))
                break;
            if (type == 0xC9 && len == 16)
                return c.ptr;
            c.ptr += len;
        }
    }
    return src;
}
