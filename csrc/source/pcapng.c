/* pcapng files (draft-ietf-opsawg-pcapng): a sequence of blocks
 * [type][total length][body][total length], 32-bit aligned. A Section Header
 * Block (SHB, 0x0A0D0D0A) starts each section and fixes its byte order; an
 * Interface Description Block (IDB, 1) declares an interface; packets come
 * in Enhanced (EPB, 6), Simple (SPB, 3) or obsolete Packet Blocks (PB, 2).
 * Every other block (NRB, ISB, DSB, custom, unknown) is skipped.
 * Interface ids are per section; we number them globally so a record's
 * interface_id indexes fp_source_interface() across sections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source_impl.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 1u
#define BT_PB 2u
#define BT_SPB 3u
#define BT_EPB 6u
#define BOM 0x1A2B3C4Du

#define OPT_ENDOFOPT 0
#define OPT_IF_NAME 2
#define OPT_IF_TSRESOL 9
#define OPT_IF_FCSLEN 13
#define OPT_IF_TSOFFSET 14

__extension__ typedef __int128 i128;

typedef struct {
    uint64_t off, idx;      /* block offset, index the next packet would get */
    uint32_t type, len;     /* block type and total length */
    uint32_t trailer;       /* the trailing copy of the length */
    const uint8_t *body;    /* after type+length, before the trailing length */
    uint32_t body_len;
    int be;
} block;

/* Content error in a block whose framing is sound: SKIP can step over it. */
static int bad_content(fp_source *s, const block *b, fp_error *err, const char *what)
{
    fp_src_error(err, FP_ERR_FORMAT, b->off, b->idx,
                 "block at offset %llu (type 0x%x, %u bytes): %s; pass on_error='skip' to "
                 "ignore this block or 'stop' to keep the packets before it",
                 (unsigned long long)b->off, b->type, b->len, what);
    s->skip_to = b->off + b->len;
    return -1;
}

/* ---- options ------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    uint32_t left;
    int be;
} opt_iter;

/* 1: an option in code/val/vlen; 0: no more; -1: an option runs past the block. */
static int opt_next(opt_iter *it, uint16_t *code, const uint8_t **val, uint16_t *vlen)
{
    if (it->left < 4)
        return 0;   /* options are optional; a short tail is padding */
    *code = fp_rd16(it->p, it->be);
    *vlen = fp_rd16(it->p + 2, it->be);
    if (*code == OPT_ENDOFOPT)
        return 0;
    uint32_t padded = ((uint32_t)*vlen + 3u) & ~3u;
    if (padded > it->left - 4)
        return -1;
    *val = it->p + 4;
    it->p += 4 + padded;
    it->left -= 4 + padded;
    return 1;
}

/* Walk options only to check they fit in the block. */
static int options_fit(const uint8_t *p, uint32_t len, int be, uint16_t *bad_code,
                       uint16_t *bad_len)
{
    opt_iter it = {p, len, be};
    const uint8_t *val;
    int rc;
    while ((rc = opt_next(&it, bad_code, &val, bad_len)) > 0)
        ;
    return rc;
}

/* ---- framing --------------------------------------------------------------- */

static void truncated(fp_error *err, const block *b, int64_t have, const char *what)
{
    fp_src_error(err, FP_ERR_TRUNCATED, b->off, b->idx,
                 "%s at offset %llu (packet %llu) needs %u bytes but the file ends after "
                 "%lld: the capture was cut short; pass on_error='stop' to keep the packets "
                 "before it", what, (unsigned long long)b->off, (unsigned long long)b->idx,
                 b->len, (long long)have);
}

static int is_packet_block(uint32_t type)
{
    return type == BT_EPB || type == BT_PB || type == BT_SPB;
}

/* Longest block of this type we accept. Packet blocks: the largest packet the
 * section's interfaces allow plus fixed fields and FP_PCAPNG_OPTIONS_MAX of
 * options (libpcap's rule); other blocks: FP_PCAPNG_OTHER_BLOCK_MAX. */
static uint32_t block_limit(const fp_source *s, uint32_t type)
{
    if (!is_packet_block(type))
        return FP_PCAPNG_OTHER_BLOCK_MAX;
    uint32_t bound = s->packet_bound ? s->packet_bound : FP_MAX_PACKET;
    return 32u + bound + FP_PCAPNG_OPTIONS_MAX;
}

/* Read the block at s->pos: 1 with *b filled, 0 at a clean end, -1 on error.
 * The trailing length is only recorded here; check_trailer() judges it. */
static int read_block(fp_source *s, block *b, fp_error *err)
{
    const uint8_t *p;
    b->off = s->pos;
    b->idx = fp_src_index(s);
    b->type = 0;
    b->len = 8;
    int64_t n = fp_src_peek(s, b->off, 12, &p, err);
    if (n < 0)
        return -1;
    if (n == 0)
        return 0;
    if (n < 8) {
        truncated(err, b, n, "block header");
        return -1;
    }
    b->be = s->big_endian;
    if (fp_rd32(p, 0) == BT_SHB) {  /* palindromic type; the BOM gives this section's order */
        if (n < 12) {
            b->len = 12;
            truncated(err, b, n, "section header block");
            return -1;
        }
        uint32_t bom = fp_rd32(p + 8, 1);
        if (bom != BOM && bom != 0x4D3C2B1Au) {
            fp_src_error(err, FP_ERR_FORMAT, b->off, b->idx,
                         "section header at offset %llu has byte-order magic %08x, not "
                         "1a2b3c4d: not a pcapng section", (unsigned long long)b->off, bom);
            return -1;
        }
        b->be = bom == BOM;
    }
    b->type = fp_rd32(p, b->be);
    b->len = fp_rd32(p + 4, b->be);
    if (b->len < 12 || b->len % 4 != 0) {
        fp_src_error(err, FP_ERR_FORMAT, b->off, b->idx,
                     "block at offset %llu (type 0x%x) has an impossible total length %u "
                     "(must be a multiple of 4, at least 12): the file is corrupt",
                     (unsigned long long)b->off, b->type, b->len);
        return -1;
    }
    /* Judged before the block is buffered: a pipe cannot make us hold more. */
    if (b->len > block_limit(s, b->type)) {
        fp_src_error(err, FP_ERR_FORMAT, b->off, b->idx,
                     "block at offset %llu (type 0x%x) claims %u bytes, more than the %u a "
                     "block of its type may have here: the file is corrupt; pass "
                     "on_error='stop' to keep the packets before it",
                     (unsigned long long)b->off, b->type, b->len, block_limit(s, b->type));
        return -1;
    }
    n = fp_src_peek(s, b->off, b->len, &p, err);
    if (n < 0)
        return -1;
    if (n < b->len) {
        truncated(err, b, n, "block");
        return -1;
    }
    b->trailer = fp_rd32(p + b->len - 4, b->be);
    b->body = p + 8;
    b->body_len = b->len - 12;
    return 1;
}

static int check_trailer(const block *b, fp_error *err)
{
    if (b->trailer == b->len)
        return 0;
    fp_src_error(err, FP_ERR_FORMAT, b->off, b->idx,
                 "block at offset %llu (type 0x%x) starts with length %u but ends with %u: "
                 "the file is corrupt", (unsigned long long)b->off, b->type, b->len, b->trailer);
    return -1;
}

/* ---- blocks ---------------------------------------------------------------- */

static int parse_shb(fp_source *s, const block *b, fp_error *err)
{
    if (b->body_len < 16)
        return bad_content(s, b, err, "section header shorter than its 16 fixed bytes");
    uint16_t major = fp_rd16(b->body + 4, b->be), minor = fp_rd16(b->body + 6, b->be);
    if (major != 1) {
        fp_src_error(err, FP_ERR_FORMAT, b->off, b->idx,
                     "unsupported pcapng version %u.%u in the section header at offset %llu "
                     "(only 1.x exists)", major, minor, (unsigned long long)b->off);
        return -1;
    }
    uint16_t code, olen;
    if (options_fit(b->body + 16, b->body_len - 16, b->be, &code, &olen) < 0) {
        fp_src_error(err, FP_ERR_FORMAT, b->off, b->idx,
                     "section header at offset %llu: option %u of length %u runs past the "
                     "end of the block: the file is corrupt", (unsigned long long)b->off, code,
                     olen);
        return -1;
    }
    s->big_endian = b->be;
    s->layout_blocks++;
    s->section_base = s->n_ifs;
    s->section_count = 0;
    s->packet_bound = FP_MAX_PACKET;
    return 0;
}

/* if_tsresol: high bit clear = 10^-n s, set = 2^-n s. 0 when not representable. */
static uint64_t tsresol_units(uint8_t v)
{
    uint8_t e = v & 0x7F;
    if (v & 0x80)
        return e <= 63 ? (uint64_t)1 << e : 0;
    if (e > 19)
        return 0;
    uint64_t u = 1;
    while (e--)
        u *= 10;
    return u;
}

static int parse_idb(fp_source *s, const block *b, fp_error *err)
{
    if (b->body_len < 8)
        return bad_content(s, b, err, "interface description shorter than its 8 fixed bytes");
    fp_interface ifc = {.linktype = fp_rd16(b->body, b->be),
                        .snaplen = fp_rd32(b->body + 4, b->be),
                        .tsresol_num = 1000000u};
    opt_iter it = {b->body + 8, b->body_len - 8, b->be};
    uint16_t code, vlen;
    const uint8_t *val;
    int rc;
    while ((rc = opt_next(&it, &code, &val, &vlen)) > 0) {
        if (code == OPT_IF_NAME) {
            size_t k = vlen < sizeof ifc.name - 1 ? vlen : sizeof ifc.name - 1;
            memcpy(ifc.name, val, k);
            ifc.name[k] = 0;
        } else if (code == OPT_IF_TSRESOL && vlen >= 1) {
            ifc.tsresol_num = tsresol_units(val[0]);
            if (!ifc.tsresol_num)
                return bad_content(s, b, err, "if_tsresol finer than a 64-bit count can hold");
        } else if (code == OPT_IF_FCSLEN && vlen >= 1) {
            ifc.fcs_len = val[0]; /* read as bytes, as tshark does (4: the Ethernet FCS) */
        } else if (code == OPT_IF_TSOFFSET && vlen >= 8) {
            uint64_t hi = fp_rd32(val, b->be), lo = fp_rd32(val + 4, b->be);
            ifc.tsoffset_s = (int64_t)(b->be ? hi << 32 | lo : lo << 32 | hi);
        }
    }
    if (rc < 0)
        return bad_content(s, b, err, "an interface option runs past the end of the block");
    if (fp_src_add_interface(s, &ifc, err, b->off) < 0)
        return -1;
    s->section_count++;
    s->layout_blocks++;
    uint32_t bound = fp_src_packet_bound(ifc.snaplen);
    if (bound > s->packet_bound)
        s->packet_bound = bound;
    return 0;
}

/* Timestamp units -> ns since the epoch, exact (floor) for any resolution. */
static int64_t units_to_ns(uint64_t units, const fp_interface *ifc)
{
    i128 ns = (i128)units * 1000000000 / (i128)ifc->tsresol_num + (i128)ifc->tsoffset_s * 1000000000;
    if (ns > INT64_MAX)
        return INT64_MAX;
    if (ns < INT64_MIN)
        return INT64_MIN;
    return (int64_t)ns;
}

static const fp_interface *section_interface(fp_source *s, const block *b, uint32_t id,
                                             fp_error *err)
{
    if (id < s->section_count)
        return &s->ifs[s->section_base + id];
    char what[96];
    snprintf(what, sizeof what, "packet on interface %u but the section declares %u", id,
             s->section_count);
    bad_content(s, b, err, what);
    return NULL;
}

static void fill_record(fp_record *rec, const block *b, const fp_source *s,
                        const fp_interface *ifc, const uint8_t *data, uint32_t caplen,
                        uint32_t wirelen)
{
    uint32_t used = (uint32_t)(data - b->body) + ((caplen + 3u) & ~3u);
    rec->opts_len = used < b->body_len ? b->body_len - used : 0;
    rec->opts_big_endian = b->be;
    rec->caplen = caplen;
    rec->wirelen = wirelen;
    rec->linktype = ifc->linktype;
    rec->interface_id = (uint32_t)(ifc - s->ifs);
    rec->fcs_len = ifc->fcs_len;
    rec->offset = b->off;
    rec->data = data;
}

/* EPB (6) and obsolete PB (2) share the layout after the interface id. */
static int parse_epb(fp_source *s, const block *b, fp_record *rec, fp_error *err)
{
    if (b->body_len < 20)
        return bad_content(s, b, err, "packet block shorter than its 20 fixed bytes");
    uint32_t id = b->type == BT_EPB ? fp_rd32(b->body, b->be) : fp_rd16(b->body, b->be);
    const fp_interface *ifc = section_interface(s, b, id, err);
    if (!ifc)
        return -1;
    uint64_t units = (uint64_t)fp_rd32(b->body + 4, b->be) << 32 | fp_rd32(b->body + 8, b->be);
    uint32_t caplen = fp_rd32(b->body + 12, b->be), wirelen = fp_rd32(b->body + 16, b->be);
    if (caplen > b->body_len - 20)
        return bad_content(s, b, err, "captured length larger than the block");
    fill_record(rec, b, s, ifc, b->body + 20, caplen, wirelen);
    rec->ts_ns = units_to_ns(units, ifc);
    rec->has_ts = 1;
    return 1;
}

static int parse_spb(fp_source *s, const block *b, fp_record *rec, fp_error *err)
{
    if (b->body_len < 4)
        return bad_content(s, b, err, "simple packet block shorter than its 4 fixed bytes");
    const fp_interface *ifc = section_interface(s, b, 0, err);
    if (!ifc)
        return -1;
    uint32_t wirelen = fp_rd32(b->body, b->be), caplen = b->body_len - 4;
    if (caplen > wirelen)
        caplen = wirelen;
    if (ifc->snaplen && caplen > ifc->snaplen)
        caplen = ifc->snaplen;
    fill_record(rec, b, s, ifc, b->body + 4, caplen, wirelen);
    rec->ts_ns = 0;
    rec->has_ts = 0;
    return 1;
}

/* Keep the blocks before the first packet block of the first section, raw,
 * for exact rewrites (bounded; any doubt makes the prefix unavailable). */
static void collect_prefix(fp_source *s, const block *b)
{
    if (s->ng_prefix_state != 0)
        return;
    if (b->type == BT_EPB || b->type == BT_PB || b->type == BT_SPB ||
        (b->type == BT_SHB && b->off > 0)) {
        s->ng_prefix_state = 1;
        return;
    }
    uint8_t *grown = s->ng_prefix_len + b->len <= FP_MAX_PCAPNG_PREFIX
                         ? realloc(s->ng_prefix, s->ng_prefix_len + b->len) : NULL;
    if (!grown) {
        s->ng_prefix_state = -1;
        return;
    }
    s->ng_prefix = grown;
    memcpy(s->ng_prefix + s->ng_prefix_len, b->body - 8, b->len);
    s->ng_prefix_len += b->len;
    s->ng_prefix_ifs += b->type == BT_IDB;
}

/* 1: packet record; 2: other block consumed; 0: end; -1: error. */
static int next_block(fp_source *s, fp_record *rec, fp_error *err)
{
    block b;
    int rc = read_block(s, &b, err);
    if (rc <= 0) {
        if (rc < 0 && s->ng_prefix_state == 0)
            s->ng_prefix_state = -1;
        return rc;
    }
    collect_prefix(s, &b);
    /* An SHB's own checks go first: a broken option is the better diagnosis
     * when it also spoils the trailer (libpcap-shb-option-too-long). */
    if ((b.type == BT_SHB && parse_shb(s, &b, err) < 0) || check_trailer(&b, err) < 0) {
        if (s->ng_prefix_state == 0)
            s->ng_prefix_state = -1;
        return -1;
    }
    switch (b.type) {
    case BT_SHB: rc = 0; break;
    case BT_IDB: rc = parse_idb(s, &b, err); break;
    case BT_EPB: case BT_PB: rc = parse_epb(s, &b, rec, err); break;
    case BT_SPB: rc = parse_spb(s, &b, rec, err); break;
    default: rc = 0; break;  /* NRB, ISB, DSB, custom, unknown: not packets */
    }
    if (rc < 0) {
        if (s->ng_prefix_state == 0)
            s->ng_prefix_state = -1;
        return -1;
    }
    s->pos = b.off + b.len;
    fp_src_prefetch(s, b.off, s->pos);
    return rc == 1 ? 1 : 2;
}

int fp_pcapng_open(fp_source *s, fp_error *err)
{
    fp_record rec;
    s->pos = 0;
    if (next_block(s, &rec, err) < 0)
        return -1;
    /* Read the leading IDBs now so the link type is known before the first
     * packet; any problem there is left for fp_source_next() to report. */
    for (;;) {
        const uint8_t *p;
        fp_error ignored;
        if (fp_src_peek(s, s->pos, 4, &p, &ignored) < 4 || fp_rd32(p, s->big_endian) != BT_IDB)
            return 0;
        uint64_t before = s->pos;
        if (next_block(s, &rec, &ignored) < 0 || s->pos == before)
            return 0;
    }
}

int fp_pcapng_next(fp_source *s, fp_record *rec, fp_error *err)
{
    int rc;
    do {
        if (s->pos >= s->range_end)   /* a range's end may follow a non-packet block */
            return 0;
    } while ((rc = next_block(s, rec, err)) == 2);
    return rc;
}

/* Framing is broken: look for the next 4-byte aligned block of a known type
 * whose leading and trailing lengths agree. */
int fp_pcapng_resync(fp_source *s)
{
    uint64_t start = s->pos;
    for (uint64_t off = start + 4; off - start < FP_RESYNC_WINDOW; off += 4) {
        const uint8_t *p;
        fp_error ignored;
        if (fp_src_peek(s, off, 8, &p, &ignored) < 8)
            return 0;
        uint32_t type = fp_rd32(p, s->big_endian), len = fp_rd32(p + 4, s->big_endian);
        if (type != BT_IDB && type != BT_PB && type != BT_SPB && type != BT_EPB && type != 4 &&
            type != 5)
            continue;
        if (len < 12 || len % 4 != 0 || len > block_limit(s, type))
            continue;
        if (fp_src_peek(s, off, len, &p, &ignored) < (int64_t)len)
            continue;
        if (fp_rd32(p + len - 4, s->big_endian) == len) {
            s->pos = off;
            return 1;
        }
    }
    return 0;
}
