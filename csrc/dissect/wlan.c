/* 802.11 link types, down to the IP packet a data frame carries:
 *   LINKTYPE_IEEE802_11 (105): the MAC header of IEEE 802.11-2016 section 9.2.4 (frame
 *     control, then 24 bytes, a fourth address when both DS bits are set, QoS control for
 *     QoS subtypes, HT control when QoS frames have the +HTC/Order bit), then LLC/SNAP
 *     (IEEE 802.2 with RFC 1042's OUI 00-00-00) and its EtherType;
 *   LINKTYPE_IEEE802_11_RADIOTAP (127): radiotap.org's header (version 0, little-endian
 *     length), its Flags field read for the FCS-at-end bit;
 *   LINKTYPE_PPI (192): the Per-Packet Information header (length and the DLT it wraps,
 *     little-endian), around 802.11 or Ethernet.
 * Management and control frames, null data and protected (encrypted) frames stop at the
 * MAC header: their bytes are the payload. */
#include "cursor.h"
#include "dissect.h"

enum { WLAN_MGMT = 0, WLAN_CTRL = 1, WLAN_DATA = 2 };
enum { FC_TODS = 0x01, FC_FROMDS = 0x02, FC_PROTECTED = 0x40, FC_ORDER = 0x80 };
enum { RADIOTAP_FLAGS_FCS = 0x10 };

static const uint8_t llc_snap[6] = {0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00};

void fp_dissect_wlan(fp_dctx *x, uint32_t off, uint32_t end)
{
    fp_cursor c;
    if (fp_header_open(x, off, end, 2, FP_ANOM_LINK_TRUNC, &c) < 0)
        return;
    uint8_t fc0 = fp_peek_u8(&c, 0), flags = fp_peek_u8(&c, 1);
    unsigned type = (fc0 >> 2) & 3, subtype = fc0 >> 4;
    if (type != WLAN_DATA || (subtype & 0x4) || (flags & FC_PROTECTED)) {
        fp_set_payload(x->d, off, end); /* nothing decodable above the MAC header */
        return;
    }
    uint32_t hlen = 24;
    if ((flags & FC_TODS) && (flags & FC_FROMDS)) hlen += 6;
    if (subtype & 0x8) hlen += (flags & FC_ORDER) ? 2 + 4 : 2; /* QoS control, HT control */
    if (fp_header_open(x, off, end, hlen + 8, FP_ANOM_LINK_TRUNC, &c) < 0)
        return;
    const uint8_t *llc = c.ptr + hlen;
    if (memcmp(llc, llc_snap, sizeof llc_snap) != 0) {
        fp_set_payload(x->d, off + hlen, end);
        return;
    }
    fp_dissect_ethertype(x, off + hlen + 8, end, fp_load_be16(llc + 6));
}

/* Radiotap fields before Flags: TSFT (bit 0, 8 bytes aligned to 8); Flags is bit 1. */
void fp_dissect_radiotap(fp_dctx *x)
{
    fp_cursor c;
    if (fp_header_open(x, 0, x->caplen, 8, FP_ANOM_LINK_TRUNC, &c) < 0)
        return;
    uint32_t len = (uint32_t)c.ptr[2] | ((uint32_t)c.ptr[3] << 8);
    if (len < 8 || len > x->caplen) {
        x->d->anomalies |= FP_ANOM_LINK_TRUNC;
        fp_set_payload(x->d, 0, x->caplen);
        return;
    }
    uint32_t present = fp_load_le32(c.ptr + 4), pos = 8, word = present;
    while ((word & 0x80000000u) && pos + 4 <= len) { /* extended bitmaps */
        word = fp_load_le32(c.ptr + pos);
        pos += 4;
    }
    uint32_t end = x->caplen;
    if (present & 1) pos = ((pos + 7) & ~7u) + 8;
    if ((present & 2) && pos < len && (c.ptr[pos] & RADIOTAP_FLAGS_FCS) && end >= len + 4)
        end -= 4; /* the frame check sequence is not part of the frame's payload */
    fp_dissect_wlan(x, len, end);
}

void fp_dissect_ppi(fp_dctx *x)
{
    fp_cursor c;
    if (fp_header_open(x, 0, x->caplen, 8, FP_ANOM_LINK_TRUNC, &c) < 0)
        return;
    uint32_t len = (uint32_t)c.ptr[2] | ((uint32_t)c.ptr[3] << 8);
    uint32_t dlt = fp_load_le32(c.ptr + 4);
    if (len < 8 || len > x->caplen) {
        x->d->anomalies |= FP_ANOM_LINK_TRUNC;
        fp_set_payload(x->d, 0, x->caplen);
        return;
    }
    switch (dlt) {
    case FP_LINKTYPE_IEEE802_11: fp_dissect_wlan(x, len, x->caplen); return;
    case FP_LINKTYPE_ETHERNET:
        if (fp_header_open(x, len, x->caplen, 14, FP_ANOM_LINK_TRUNC, &c) < 0) return;
        fp_set_layer(x->d, FP_L_ETH, len, 14, x->caplen);
        fp_dissect_ethertype(x, len + 14, x->caplen, fp_peek_be16(&c, 12));
        return;
    default: fp_set_payload(x->d, len, x->caplen); return;
    }
}
