/* ARP (RFC 826; field layout as in RFC 5227 section 1.1 for Ethernet/IPv4).
 * Only validated here: the span covers the fixed part plus both address pairs,
 * whatever the hardware/protocol address sizes; the bridge reads Ethernet/IPv4
 * fields from it when hlen == 28. */
#include "cursor.h"
#include "dissect.h"

void fp_dissect_arp(fp_dctx *x, uint32_t off, uint32_t end)
{
    fp_dissection *d = x->d;
    fp_cursor c = fp_cursor_make(x->data, end);
    c.ptr += off;
    if (!fp_cur_has(&c, 8)) {
        d->anomalies |= FP_ANOM_ARP_TRUNC;
        fp_set_payload(d, off, end);
        return;
    }
    uint32_t hln = fp_peek_u8(&c, 4), pln = fp_peek_u8(&c, 5);
    uint32_t hlen = 8 + 2 * (hln + pln);
    if (!fp_cur_has(&c, hlen)) {
        d->anomalies |= FP_ANOM_ARP_TRUNC;
        fp_set_payload(d, off, end);
        return;
    }
    /* The span ends with the ARP body: what follows is Ethernet padding. */
    fp_set_layer(d, FP_L_ARP, off, hlen, off + hlen);
    fp_set_payload(d, off + hlen, off + hlen);
}
