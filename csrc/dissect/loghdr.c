/* Capture headers of packet-filter and logging link types, skipped to the IP packet:
 *   LINKTYPE_PFLOG (117): OpenBSD pf's pfloghdr, its length byte padded to 4 bytes
 *     (BPF_WORDALIGN, as libpcap and tcpdump read it), then the address family;
 *   LINKTYPE_ENC (109): OpenBSD's enchdr (address family, SPI, flags; 12 bytes), the
 *     family in the capturing host's byte order;
 *   LINKTYPE_IPNET (226): Solaris ipnet's 24-byte dl_ipnetinfo (family at byte 1:
 *     2 IPv4, 26 IPv6);
 *   LINKTYPE_NFLOG (239): Linux NFLOG, a 4-byte header (family, version, resource id)
 *     then TLVs (length and type in the capturing host's byte order, each padded to 4
 *     bytes) walked to NFULA_PAYLOAD (type 9), the packet.
 * IPv6 family numbers differ by OS: 24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS, 10 Linux,
 * 26 Solaris. */
#include "cursor.h"
#include "dissect.h"

enum { NFULA_PAYLOAD = 9 };

static void ip_by_family(fp_dctx *x, uint32_t af, uint32_t off, uint32_t end)
{
    switch (af) {
    case 2: x->d->ethertype = 0x0800; fp_dissect_ip4(x, off, end); return;
    case 10: case 24: case 26: case 28: case 30:
        x->d->ethertype = 0x86dd;
        fp_dissect_ip6(x, off, end);
        return;
    default: fp_set_payload(x->d, off, end); return;
    }
}

static int header_fits(fp_dctx *x, uint32_t len)
{
    if (len <= x->caplen) return 1;
    x->d->anomalies |= FP_ANOM_LINK_TRUNC;
    fp_set_payload(x->d, 0, x->caplen);
    return 0;
}

void fp_dissect_pflog(fp_dctx *x)
{
    if (!header_fits(x, 2)) return;
    uint32_t len = ((uint32_t)x->data[0] + 3u) & ~3u;
    if (len < 4 || !header_fits(x, len)) return;
    ip_by_family(x, x->data[1], len, x->caplen);
}

void fp_dissect_enc(fp_dctx *x)
{
    if (!header_fits(x, 12)) return;
    uint32_t af = fp_load_be32(x->data);
    if (af > 0xffff) af = fp_load_le32(x->data); /* written little-endian */
    ip_by_family(x, af, 12, x->caplen);
}

void fp_dissect_ipnet(fp_dctx *x)
{
    if (!header_fits(x, 24)) return;
    ip_by_family(x, x->data[1], 24, x->caplen);
}

void fp_dissect_nflog(fp_dctx *x)
{
    if (!header_fits(x, 4)) return;
    uint32_t af = x->data[0], off = 4;
    /* the TLV lengths' byte order: the one giving a sane first length (>= 4, inside) */
    int little = 1;
    if (off + 4 <= x->caplen) {
        uint32_t le = (uint32_t)x->data[off] | ((uint32_t)x->data[off + 1] << 8);
        uint32_t be = fp_load_be16(x->data + off);
        little = le >= 4 && le <= x->caplen - off ? 1 : !(be >= 4 && be <= x->caplen - off);
    }
    while (off + 4 <= x->caplen) {
        const uint8_t *t = x->data + off;
        uint32_t len = little ? (uint32_t)t[0] | ((uint32_t)t[1] << 8) : fp_load_be16(t);
        uint32_t type = (little ? (uint32_t)t[2] | ((uint32_t)t[3] << 8) : fp_load_be16(t + 2)) & 0x7fff;
        if (len < 4 || len > x->caplen - off) break;
        if (type == NFULA_PAYLOAD) {
            ip_by_family(x, af, off + 4, off + len);
            return;
        }
        off += (len + 3u) & ~3u;
    }
    x->d->anomalies |= FP_ANOM_LINK_TRUNC; /* no payload TLV */
    fp_set_payload(x->d, 0, x->caplen);
}
