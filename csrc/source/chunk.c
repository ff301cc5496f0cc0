/* Record-aligned byte ranges of one mapped capture, so that several readers can
 * each take a part of a pcap or pcapng file. Python-free.
 *
 * Finding a boundary (fp_source_sync) is a heuristic: from a target offset, the
 * first offset where FP_SYNC_CHAIN consecutive records (or every record up to the
 * end of the file) have plausible headers. Payloads can imitate that (a capture of
 * a pcap download), so the boundary is proven afterwards, for free, by the reader
 * of the range before it: that reader starts on a true record and walks the true
 * record chain, so it lands exactly on its range's end only if the end is a true
 * record start (fp_source_range_exact). A consumer that finds a range inexact
 * keeps reading it to the end of the file and drops the ranges after it: a wrong
 * guess costs parallelism, never a record. */
#define _DEFAULT_SOURCE 1

#include <stdlib.h>

#include "source_impl.h"

#define PCAP_HDR 24u
#define REC_HDR 16u
#define NS_PER_DAY (86400LL * 1000000000LL)

/* Block types a pcapng boundary may chain through: IDB, PB, SPB, NRB, ISB, EPB,
 * DSB and the two custom types (draft-ietf-opsawg-pcapng section 11.1). */
static int known_block(uint32_t type)
{
    return (type >= 1 && type <= 6) || type == 0xAu || type == 0xBADu || type == 0x40000BADu;
}

/* pcap: a record header at off that a real writer could have made; its time in *ts. */
static int pcap_header_ok(const fp_source *s, uint64_t off, int64_t *ts, uint64_t *next)
{
    if (s->mem_len - off < REC_HDR)
        return 0;
    const uint8_t *p = s->mem + off;
    int be = s->big_endian;
    uint32_t sec = fp_rd32(p, be), frac = fp_rd32(p + 4, be);
    uint32_t caplen = fp_rd32(p + 8, be), wirelen = fp_rd32(p + 12, be);
    uint32_t limit = s->snaplen && s->snaplen < s->packet_bound ? s->snaplen : s->packet_bound;
    if (frac >= (s->nanosecond ? 1000000000u : 1000000u))
        return 0;
    /* caplen a little over wirelen occurs in real files (the sequential reader keeps it) */
    if (wirelen == 0 || wirelen > FP_MAX_RECORD || caplen > limit || caplen > wirelen + 16u)
        return 0;
    if (s->mem_len - off - REC_HDR < caplen)
        return 0;
    *ts = (int64_t)sec * 1000000000LL + (int64_t)frac * (s->nanosecond ? 1 : 1000);
    *next = off + REC_HDR + caplen;
    return 1;
}

static int pcap_chain(const fp_source *s, uint64_t off)
{
    int64_t prev = 0;
    for (int k = 0; k < FP_SYNC_CHAIN; k++) {
        if (off == s->mem_len)
            return k > 0;
        int64_t ts;
        if (!pcap_header_ok(s, off, &ts, &off))
            return 0;
        if (k > 0 && (ts - prev > NS_PER_DAY || prev - ts > NS_PER_DAY))
            return 0;
        prev = ts;
    }
    return 1;
}

/* pcapng: a block of a known type whose two lengths agree, in the byte order and
 * with the interfaces of the section the source opened in. An SHB ends the chain
 * (a new section may change both); it cannot start one. */
static int pcapng_chain(const fp_source *s, uint64_t off)
{
    int be = s->big_endian;
    uint32_t bound = s->packet_bound ? s->packet_bound : FP_MAX_PACKET;
    for (int k = 0; k < FP_SYNC_CHAIN; k++) {
        if (off == s->mem_len)
            return k > 0;
        if (s->mem_len - off < 12)
            return 0;
        const uint8_t *p = s->mem + off;
        if (fp_rd32(p, 0) == 0x0A0D0D0Au)
            return k > 0;
        uint32_t type = fp_rd32(p, be), len = fp_rd32(p + 4, be);
        int packet = type == 2 || type == 3 || type == 6;
        uint32_t limit = packet ? 32u + bound + FP_PCAPNG_OPTIONS_MAX : FP_PCAPNG_OTHER_BLOCK_MAX;
        if (!known_block(type) || len < 12 || len % 4 || len > limit || s->mem_len - off < len)
            return 0;
        if (fp_rd32(p + len - 4, be) != len)
            return 0;
        if (type == 6 || type == 2) {
            uint32_t id = type == 6 ? fp_rd32(p + 8, be) : fp_rd16(p + 8, be);
            if (len < 32 || id >= s->section_count || fp_rd32(p + 20, be) > len - 32)
                return 0;
        } else if (type == 3 && (len < 16 || s->section_count == 0)) {
            return 0;
        }
        off += len;
    }
    return 1;
}

uint64_t fp_source_sync(const fp_source *s, uint64_t from)
{
    if (!s->mem || s->live || s->format == FP_FORMAT_LIVE)
        return s->mem ? s->mem_len : 0;
    uint64_t off = from > s->pos ? from : s->pos;
    int ng = s->format == FP_FORMAT_PCAPNG;
    if (ng)
        off = (off + 3) & ~(uint64_t)3;   /* blocks are 32-bit aligned from the file start */
    /* pcap: most offsets fail on the fraction of a second alone; tested first, a scan costs
     * about half (a boundary took ~26 instructions per byte scanned, ~1.5k bytes each) */
    uint32_t frac_end = s->nanosecond ? 1000000000u : 1000000u;
    int be = s->big_endian;
    for (uint64_t start = off; off < s->mem_len && off - start < FP_RESYNC_WINDOW; off += ng ? 4 : 1) {
        if (!ng && (s->mem_len - off < REC_HDR || fp_rd32(s->mem + off + 4, be) >= frac_end))
            continue; /* pcap_header_ok would say no */
        if (ng ? pcapng_chain(s, off) : pcap_chain(s, off))
            return off;
    }
    return s->mem_len;
}

unsigned fp_source_split(const fp_source *s, unsigned n, uint64_t *bounds)
{
    if (!s->mem || n < 2 || s->pos >= s->mem_len || s->policy == FP_ON_ERROR_SKIP) {
        bounds[0] = s->pos;
        bounds[1] = s->mem ? s->mem_len : s->pos;
        return 1;
    }
    uint64_t first = s->pos, span = s->mem_len - first;
    unsigned m = 0;
    bounds[0] = first;
    for (unsigned i = 1; i < n; i++) {
        uint64_t target = first + (uint64_t)((unsigned __int128)span * i / n);
        if (target <= bounds[m])
            target = bounds[m] + 1;
        uint64_t b = fp_source_sync(s, target);
        if (b >= s->mem_len)
            break;
        bounds[++m] = b;
    }
    bounds[++m] = s->mem_len;
    return m;
}

int fp_source_set_range(fp_source *s, uint64_t start, uint64_t end, uint64_t first_index)
{
    if (!s->mem || s->live || start < s->pos || start > end || s->last_error.kind != FP_OK ||
        s->skipped)
        return -1;
    if (start > s->pos) {                     /* nothing before the range will be touched */
        s->advised = start & ~s->page_mask;
        if (!s->share)
            s->release_at = s->advised + FP_ADVISE_EVERY;
    }
    s->pos = start;
    if (first_index != FP_KEEP_INDEX)
        s->packets = first_index;
    s->range_end = end;
    s->range_layout = s->layout_blocks;
    s->finished = 0;
    return 0;
}

int fp_source_range_clean(const fp_source *s)
{
    /* a section or interface block matters to the ranges after it: the last has none */
    return s->finished && (s->layout_blocks == s->range_layout || s->range_end >= s->mem_len) &&
           s->last_error.kind == FP_OK && !s->skipped;
}

int fp_source_range_exact(const fp_source *s)
{
    return fp_source_range_clean(s) && s->pos == s->range_end;
}

fp_source *fp_source_fork(fp_source *s, fp_error *err)
{
    uint64_t bounds[3];
    if (!s->mem || s->live || s->format != FP_FORMAT_PCAP || s->share || s->finished ||
        s->range_end < s->mem_len || fp_source_split(s, 2, bounds) < 2)
        return NULL;
    /* a memory source over the same bytes: its records point into s's mapping */
    fp_source *f = fp_source_open_memory(s->mem, s->mem_len, s->policy, err);
    if (f == NULL)
        return NULL;
    if (fp_source_set_range(f, bounds[1], s->mem_len, 0) < 0 ||
        fp_source_set_range(s, s->pos, bounds[1], FP_KEEP_INDEX) < 0) {
        fp_source_close(f);
        return NULL;
    }
    return f;
}

int fp_source_rejoin(fp_source *s, uint64_t end, uint64_t records)
{
    int exact = fp_source_range_exact(s);
    if (!exact) { /* s walked past the cut (a wrong guess): it reads on alone */
        end = s->pos;
        records = 0;
    }
    /* The other walker gave its pages back behind it, but the last fault of s's range can map
     * a large folio (2 MiB) reaching past the cut, after that: s gives back what it skips. */
    if (end > s->pos && s->mem) fp_source_release_pages(s, s->mem + s->pos, s->mem + end);
    if (fp_source_set_range(s, end, s->mem_len, s->packets + records) < 0)
        return -1;
    return exact;
}
