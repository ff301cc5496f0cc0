/* ICMP (RFC 792) and ICMPv6 (RFC 4443 section 2.1): type, code, checksum and the
 * 4-byte rest-of-header word. The span's header is the 8 bytes (fewer when cut). */
#include "cursor.h"
#include "dissect.h"

void fp_dissect_icmp(fp_dctx *x, fp_layer_id id, uint32_t off, uint32_t end)
{
    fp_dissection *d = x->d;
    fp_cursor c = fp_cursor_make(x->data, end);
    c.ptr += off;
    if (!fp_cur_has(&c, 4)) { /* type, code, checksum are the minimum */
        d->anomalies |= FP_ANOM_ICMP_TRUNC;
        fp_set_payload(d, off, end);
        return;
    }
    uint32_t hlen = fp_cur_has(&c, 8) ? 8 : 4;
    if (hlen < 8)
        d->anomalies |= FP_ANOM_ICMP_TRUNC;
    fp_set_layer(d, id, off, hlen, end);
    fp_set_payload(d, off + hlen, end);
}
