/* Classic libpcap files (draft-ietf-opsawg-pcap; pcap-savefile(5)):
 * a 24-byte file header (magic a1b2c3d4 = microseconds, a1b23c4d =
 * nanoseconds, in the writer's byte order; version 2.x; snaplen; link type in
 * the low 16 bits, FCS information above) followed by 16-byte record headers
 * (seconds, fraction, caplen, wirelen) each followed by caplen bytes. */
#include <string.h>

#include "source_impl.h"

#define PCAP_HDR 24u
#define REC_HDR 16u
#define NS_PER_DAY (86400LL * 1000000000LL)

typedef struct {
    uint32_t sec, frac, caplen, wirelen;
} rec_hdr;

static inline rec_hdr parse_rec_hdr(const uint8_t *p, int be)
{
    rec_hdr h = {fp_rd32(p, be), fp_rd32(p + 4, be), fp_rd32(p + 8, be), fp_rd32(p + 12, be)};
    return h;
}

static int64_t rec_ts_ns(const fp_source *s, const rec_hdr *h)
{
    /* sec is unsigned (valid until 2106); 2^32 s * 1e9 + frac still fits int64. */
    return (int64_t)h->sec * 1000000000LL + (int64_t)h->frac * s->ts_frac_ns;
}

int fp_pcap_open(fp_source *s, fp_error *err)
{
    const uint8_t *p;
    int64_t n = fp_src_peek(s, 0, PCAP_HDR, &p, err);
    if (n < 0)
        return -1;
    if (n < PCAP_HDR) {
        fp_src_error(err, FP_ERR_TRUNCATED, 0, 0,
                     "file ends after %d bytes, inside the 24-byte pcap file header", (int)n);
        return -1;
    }
    memcpy(s->pcap_header, p, PCAP_HDR);
    uint32_t magic = fp_rd32(p, 1);
    s->big_endian = magic == 0xA1B2C3D4u || magic == 0xA1B23C4Du;
    s->nanosecond = magic == 0xA1B23C4Du || magic == 0x4D3CB2A1u;
    s->ts_frac_ns = s->nanosecond ? 1 : 1000;
    uint16_t major = fp_rd16(p + 4, s->big_endian), minor = fp_rd16(p + 6, s->big_endian);
    if (major != 2) {
        fp_src_error(err, FP_ERR_FORMAT, 0, 0, /* offset of the bad header, as for records */
                     "unsupported pcap version %u.%u: only version 2.x exists, the file "
                     "header is corrupt", major, minor);
        return -1;
    }
    s->snaplen = fp_rd32(p + 16, s->big_endian);
    uint32_t lt = fp_rd32(p + 20, s->big_endian);
    s->linktype = lt & 0xFFFFu;
    s->packet_bound = fp_src_packet_bound(s->snaplen);
    s->pos = PCAP_HDR;
    fp_interface ifc = {.linktype = s->linktype,
                        .snaplen = s->snaplen,
                        .tsresol_num = s->nanosecond ? 1000000000u : 1000000u,
                        /* the F bit says the top 4 bits hold the FCS length in 16-bit words */
                        .fcs_len = (uint8_t)(lt & 0x04000000u ? (lt >> 28) * 2 : 0)};
    return fp_src_add_interface(s, &ifc, err, 0);
}

/* Largest caplen that is still a real packet for this file (as libpcap and
 * tshark judge it: 256 KiB, or the snaplen when the file declares more). */
static uint32_t caplen_bound(const fp_source *s) { return s->packet_bound; }

/* The record whose header `h` is at `off` and whose bytes are at `p`: delivered, the
 * position moved past it. */
static inline void take_record(fp_source *s, fp_record *rec, const rec_hdr *h, uint64_t off,
                               const uint8_t *p)
{
    rec->ts_ns = rec_ts_ns(s, h);
    rec->caplen = h->caplen;    /* caplen > wirelen happens in real files: keep it */
    rec->wirelen = h->wirelen;
    rec->linktype = s->linktype;
    rec->interface_id = 0;
    rec->fcs_len = s->ifs[0].fcs_len;
    rec->has_ts = 1;
    rec->offset = off;
    rec->data = p;
    s->pos = off + REC_HDR + h->caplen;
    fp_src_prefetch(s, off, s->pos);
}

int fp_pcap_next(fp_source *s, fp_record *rec, fp_error *err)
{
    const uint8_t *p;
    uint64_t off = s->pos, idx = fp_src_index(s);
    if (off >= s->range_end)
        return 0;
    int64_t n = fp_src_peek(s, off, REC_HDR, &p, err);
    if (n < 0)
        return -1;
    if (n == 0)
        return 0;
    if (n < REC_HDR) {
        fp_src_error(err, FP_ERR_TRUNCATED, off, idx,
                     "record %llu at offset %llu: the file ends after %d bytes of its 16-byte "
                     "header: the capture was cut short; pass on_error='stop' to keep the "
                     "packets before it", (unsigned long long)idx, (unsigned long long)off, (int)n);
        return -1;
    }
    rec_hdr h = parse_rec_hdr(p, s->big_endian);
    /* Judged before the record is buffered: a pipe cannot make us hold more. */
    if (h.caplen > caplen_bound(s)) {
        fp_src_error(err, FP_ERR_FORMAT, off, idx,
                     "record %llu at offset %llu claims %u captured bytes, more than the %u a "
                     "packet of this file can have (snaplen %u): the record header is corrupt; "
                     "pass on_error='skip' to look for the next record or 'stop' to keep the "
                     "packets before it", (unsigned long long)idx, (unsigned long long)off,
                     h.caplen, caplen_bound(s), s->snaplen);
        return -1;
    }
    n = fp_src_peek(s, off + REC_HDR, h.caplen, &p, err);
    if (n < 0)
        return -1;
    if ((uint64_t)n < h.caplen) {
        fp_src_error(err, FP_ERR_TRUNCATED, off, idx,
                     "record %llu at offset %llu claims %u bytes but the file ends after %lld: "
                     "the capture was cut short; pass on_error='stop' to keep the packets "
                     "before it", (unsigned long long)idx, (unsigned long long)off, h.caplen,
                     (long long)n);
        return -1;
    }
    take_record(s, rec, &h, off, p);
    return 1;
}

int fp_pcap_take(fp_source *s, fp_record *rec)
{
    uint64_t off = s->pos;
    if (off >= s->range_end || off + REC_HDR > s->mem_len)
        return 0;
    rec_hdr h = parse_rec_hdr(s->mem + off, s->big_endian);
    if (h.caplen > caplen_bound(s) || s->mem_len - (off + REC_HDR) < h.caplen)
        return 0;
    take_record(s, rec, &h, off, s->mem + off + REC_HDR);
    return 1;
}

/* ---- SKIP: find the next record header by plausibility --------------------- */

/* Does a record header at `off` look real? `avail` is how many bytes of input
 * from off are readable (up to what was asked). */
static int plausible(const fp_source *s, const uint8_t *p, int64_t avail, int64_t *reclen)
{
    if (avail < REC_HDR)
        return 0;
    rec_hdr h = parse_rec_hdr(p, s->big_endian);
    uint32_t bound = caplen_bound(s);
    if (h.frac >= (s->nanosecond ? 1000000000u : 1000000u))
        return 0;
    if (h.wirelen == 0 || h.caplen > bound || h.wirelen > bound || h.caplen > h.wirelen + 16u)
        return 0;
    if (s->have_prev_ts) {
        int64_t d = rec_ts_ns(s, &h) - s->prev_ts_ns;
        if (d > NS_PER_DAY || d < -NS_PER_DAY)
            return 0;
    }
    *reclen = REC_HDR + (int64_t)h.caplen;
    return 1;
}

int fp_pcap_resync(fp_source *s)
{
    fp_error ignored;
    uint64_t start = s->pos;
    for (uint64_t off = start + 1; off - start < FP_RESYNC_WINDOW; off++) {
        const uint8_t *p;
        int64_t reclen;
        int64_t n = fp_src_peek(s, off, REC_HDR, &p, &ignored);
        if (n < (int64_t)REC_HDR)
            return 0;                           /* end of input (or I/O error) */
        if (!plausible(s, p, n, &reclen))
            continue;
        /* The record must fit, and what follows must be the end or another record. */
        uint64_t next = off + (uint64_t)reclen;
        int64_t rest = fp_src_peek(s, off, (size_t)reclen, &p, &ignored);
        if (rest < reclen)
            continue;
        n = fp_src_peek(s, next, REC_HDR, &p, &ignored);
        int64_t next_len;
        /* A candidate ending the input has no second record to vouch for it:
         * then at least its timestamp must agree with the packets before. */
        if ((n == 0 && s->have_prev_ts) || (n == REC_HDR && plausible(s, p, n, &next_len))) {
            s->pos = off;
            return 1;
        }
    }
    return 0;
}
