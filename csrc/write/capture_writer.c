/* pcap (draft-ietf-opsawg-pcap) and pcapng (draft-ietf-opsawg-pcapng) records.
 *
 * pcap: file header version 2.4, microsecond (a1b2c3d4) or nanosecond
 * (a1b23c4d) magic, either byte order, the FCS length in the link type field's
 * F bit and top 4 bits (libpcap's LT_FCS_LENGTH), or a 24-byte header copied as read.
 * Seconds are unsigned 32-bit: times before 1970 or after 2106 are refused.
 *
 * pcapng: one section (SHB, or a prefix of blocks copied as read), one IDB per
 * interface (linktype, snaplen, if_name, if_tsresol, if_fcslen, if_tsoffset; the
 * options at their defaults are omitted), and an EPB per packet with opt_comment and
 * epb_flags. Timestamps are written in the interface's units: the largest
 * count whose time, as a reader computes it, is not after the packet's, so a
 * time read from a file with a resolution of 1 ns or coarser comes back as
 * the same count. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "writer.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 1u
#define BT_EPB 6u
#define BOM 0x1A2B3C4Du

#define OPT_ENDOFOPT 0
#define OPT_COMMENT 1
#define OPT_IF_NAME 2
#define OPT_EPB_FLAGS 2
#define OPT_IF_TSRESOL 9
#define OPT_IF_FCSLEN 13
#define OPT_IF_TSOFFSET 14

#define NS 1000000000LL
#define PAD4(n) (((n) + 3u) & ~3u)

__extension__ typedef __int128 i128;

typedef struct {
    fp_winterface ifc;
    char *name;          /* owned copy of ifc.name */
} interface;

struct fp_writer {
    fp_out *out;
    fp_wformat format;
    int big_endian;
    int nanosecond;      /* pcap */
    uint32_t snaplen;    /* pcap */
    interface *ifs;      /* pcapng */
    uint32_t n_ifs, cap_ifs, prefix_ifs;
};

static int value_error(fp_werror *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int value_error(fp_werror *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    e->kind = FP_WERR_VALUE;
    e->sys_errno = 0;
    return -1;
}

static void put16(uint8_t *p, uint16_t v, int be)
{
    p[be ? 0 : 1] = (uint8_t)(v >> 8);
    p[be ? 1 : 0] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v, int be)
{
    for (int i = 0; i < 4; i++)
        p[be ? i : 3 - i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put64(uint8_t *p, uint64_t v, int be)
{
    put32(p + (be ? 0 : 4), (uint32_t)(v >> 32), be);
    put32(p + (be ? 4 : 0), (uint32_t)v, be);
}

static uint32_t get32(const uint8_t *p, int be)
{
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint16_t get16(const uint8_t *p, int be)
{
    return be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static int out_of_memory(fp_werror *e)
{
    e->kind = FP_WERR_IO;
    e->sys_errno = ENOMEM;
    snprintf(e->message, sizeof e->message, "out of memory");
    return -1;
}

static fp_writer *writer_new(fp_out *o, fp_wformat format, fp_werror *e)
{
    fp_writer *w = calloc(1, sizeof *w);
    if (!w) {
        fp_out_abort(o);
        out_of_memory(e);
        return NULL;
    }
    w->out = o;
    w->format = format;
    return w;
}

static fp_writer *writer_fail(fp_writer *w)
{
    fp_writer_abort(w);
    return NULL;
}

/* ---- pcap ------------------------------------------------------------------ */

static int pcap_magic_order(const uint8_t *header, int *big_endian, int *nanosecond, fp_werror *e)
{
    uint32_t magic = get32(header, 1);
    switch (magic) {
    case 0xA1B2C3D4u: *big_endian = 1; *nanosecond = 0; return 0;
    case 0xD4C3B2A1u: *big_endian = 0; *nanosecond = 0; return 0;
    case 0xA1B23C4Du: *big_endian = 1; *nanosecond = 1; return 0;
    case 0x4D3CB2A1u: *big_endian = 0; *nanosecond = 1; return 0;
    default:
        return value_error(e, "header does not start with a pcap magic number (%08x)", magic);
    }
}

fp_writer *fp_writer_open_pcap(fp_out *o, const uint8_t *header, uint32_t linktype, uint32_t fcs_len,
                               uint32_t snaplen, int nanosecond, int big_endian, fp_werror *e)
{
    fp_writer *w = writer_new(o, FP_WFORMAT_PCAP, e);
    if (!w)
        return NULL;
    uint8_t hdr[24] = {0};
    if (header) {
        if (pcap_magic_order(header, &big_endian, &nanosecond, e) < 0)
            return writer_fail(w);
        memcpy(hdr, header, 24);
        snaplen = get32(hdr + 16, big_endian);
    } else {
        if (linktype > 0xFFFF) {
            value_error(e, "linktype %u does not fit the 16 bits pcap has for it", linktype);
            return writer_fail(w);
        }
        if (fcs_len % 2 || fcs_len > 30) {
            value_error(e, "fcslen %u: pcap declares an FCS length in 16-bit words, 0 to 15 (even "
                        "byte counts up to 30); use format='pcapng'", fcs_len);
            return writer_fail(w);
        }
        put32(hdr, nanosecond ? 0xA1B23C4Du : 0xA1B2C3D4u, big_endian);
        put16(hdr + 4, 2, big_endian);
        put16(hdr + 6, 4, big_endian);
        put32(hdr + 16, snaplen, big_endian);
        put32(hdr + 20, linktype | (fcs_len ? 0x04000000u | fcs_len / 2 << 28 : 0), big_endian);
    }
    w->big_endian = big_endian != 0;
    w->nanosecond = nanosecond != 0;
    w->snaplen = snaplen;
    if (fp_out_write(o, hdr, sizeof hdr, e) < 0)
        return writer_fail(w);
    return w;
}

static int check_lengths(const fp_wpacket *p, uint32_t snaplen, fp_werror *e)
{
    if (p->wirelen < p->caplen)
        return value_error(e, "original length %u is smaller than the captured length %u",
                           p->wirelen, p->caplen);
    if (snaplen && p->caplen > snaplen)
        return value_error(e, "captured length %u exceeds the snaplen %u (readers cut or "
                           "reject such records): open the Writer with a larger snaplen",
                           p->caplen, snaplen);
    return 0;
}

static int write_pcap(fp_writer *w, const fp_wpacket *p, fp_werror *e)
{
    if (p->comment || p->has_flags)
        return value_error(e, "pcap records have no comments or flags: use format='pcapng'");
    if (check_lengths(p, w->snaplen, e) < 0)
        return -1;
    int64_t sec = p->ts_ns / NS, frac = p->ts_ns % NS;
    if (frac < 0) {
        frac += NS;
        sec -= 1;
    }
    if (sec < 0 || sec > 0xFFFFFFFFLL)
        return value_error(e, "time %lld ns is %s: pcap timestamps are unsigned 32-bit "
                           "seconds (1970-01-01 to 2106-02-07); use format='pcapng'",
                           (long long)p->ts_ns, sec < 0 ? "before 1970" : "after 2106-02-07");
    uint8_t h[16];
    put32(h, (uint32_t)sec, w->big_endian);
    put32(h + 4, (uint32_t)(w->nanosecond ? frac : frac / 1000), w->big_endian);
    put32(h + 8, p->caplen, w->big_endian);
    put32(h + 12, p->wirelen, w->big_endian);
    if (fp_out_write(w->out, h, sizeof h, e) < 0 || fp_out_write(w->out, p->data, p->caplen, e) < 0)
        return -1;
    return 0;
}

/* ---- pcapng: options --------------------------------------------------------- */

static const uint8_t zeros[8];

/* Append one option to buf (when not NULL); returns its padded size. */
static size_t put_option(uint8_t *buf, uint16_t code, const void *val, uint16_t len, int be)
{
    if (buf) {
        put16(buf, code, be);
        put16(buf + 2, len, be);
        memcpy(buf + 4, val, len);
        memset(buf + 4 + len, 0, PAD4((uint32_t)len) - len);
    }
    return 4 + PAD4((uint32_t)len);
}

/* The EPB options for p, into buf (NULL: only the size). Raw options are
 * walked with bounds checks: their framing comes from a file. */
static size_t packet_options(const fp_writer *w, const fp_wpacket *p, uint8_t *buf)
{
    int be = w->big_endian;
    int same_order = p->raw_big_endian == be;
    /* verbatim when they keep the block 4-aligned (options from a source always do) */
    if (p->raw_opts_len && p->raw_opts_len % 4 == 0 && same_order && !p->comment && !p->has_flags) {
        if (buf)
            memcpy(buf, p->raw_opts, p->raw_opts_len);
        return p->raw_opts_len;
    }
    size_t n = 0;
    const uint8_t *q = p->raw_opts;
    uint32_t left = p->raw_opts_len;
    while (left >= 4) {
        uint16_t code = get16(q, p->raw_big_endian), len = get16(q + 2, p->raw_big_endian);
        if (code == OPT_ENDOFOPT || PAD4((uint32_t)len) > left - 4)
            break;
        const uint8_t *val = q + 4;
        q += 4 + PAD4((uint32_t)len);
        left -= 4 + PAD4((uint32_t)len);
        if ((code == OPT_COMMENT && p->comment) || (code == OPT_EPB_FLAGS && p->has_flags))
            continue;
        if (same_order) {
            n += put_option(buf ? buf + n : NULL, code, val, len, be);
        } else if (code == OPT_COMMENT) {
            n += put_option(buf ? buf + n : NULL, code, val, len, be);
        } else if (code == OPT_EPB_FLAGS && len == 4) {
            uint8_t v[4];
            put32(v, get32(val, p->raw_big_endian), be);
            n += put_option(buf ? buf + n : NULL, code, v, 4, be);
        }
        /* other options have byte-order-dependent layouts we do not know: dropped */
    }
    if (p->comment)
        n += put_option(buf ? buf + n : NULL, OPT_COMMENT, p->comment, (uint16_t)p->comment_len, be);
    if (p->has_flags) {
        uint8_t v[4];
        put32(v, p->flags, be);
        n += put_option(buf ? buf + n : NULL, OPT_EPB_FLAGS, v, 4, be);
    }
    if (n)
        n += put_option(buf ? buf + n : NULL, OPT_ENDOFOPT, zeros, 0, be);
    return n;
}

/* ---- pcapng: blocks --------------------------------------------------------- */

static int write_block(fp_writer *w, uint32_t type, const uint8_t *body, size_t body_len,
                       fp_werror *e)
{
    uint8_t h[8], t[4];
    uint32_t total = (uint32_t)(12 + body_len);
    put32(h, type, w->big_endian);
    put32(h + 4, total, w->big_endian);
    put32(t, total, w->big_endian);
    if (fp_out_write(w->out, h, 8, e) < 0 || fp_out_write(w->out, body, body_len, e) < 0 ||
        fp_out_write(w->out, t, 4, e) < 0)
        return -1;
    return 0;
}

/* Walk a block prefix: it must start with a section header, every block must
 * fit; counts its interfaces and takes its byte order. */
static int check_prefix(fp_writer *w, const uint8_t *p, size_t len, fp_werror *e)
{
    if (len < 28 || get32(p, 1) != BT_SHB)
        return value_error(e, "header must be pcapng blocks starting with a section header "
                           "(PacketList.file_header of a pcapng file)");
    uint32_t bom = get32(p + 8, 1);
    if (bom != BOM && bom != 0x4D3C2B1Au)
        return value_error(e, "header: section header with byte-order magic %08x", bom);
    int be = bom == BOM;
    size_t off = 0;
    uint32_t ifs = 0;
    while (off < len) {
        if (len - off < 12)
            return value_error(e, "header: block at offset %zu is cut short", off);
        uint32_t type = get32(p + off, be), blen = get32(p + off + 4, be);
        if (blen < 12 || blen % 4 || blen > len - off || get32(p + off + blen - 4, be) != blen)
            return value_error(e, "header: block at offset %zu has a bad length %u", off, blen);
        if (type == BT_SHB && off > 0)
            return value_error(e, "header: a second section header at offset %zu", off);
        if (type == 2 || type == 3 || type == BT_EPB)
            return value_error(e, "header: packet block at offset %zu", off);
        ifs += type == BT_IDB;
        off += blen;
    }
    w->big_endian = be;
    w->prefix_ifs = ifs;
    return 0;
}

int64_t fp_writer_check_header(fp_wformat format, const uint8_t *header, size_t len, fp_werror *e)
{
    if (format == FP_WFORMAT_PCAP) {
        int be, ns;
        if (len != 24)
            return value_error(e, "header must be the 24-byte pcap file header (PacketList.file_header)");
        return pcap_magic_order(header, &be, &ns, e);
    }
    fp_writer scratch = {0};
    return check_prefix(&scratch, header, len, e) < 0 ? -1 : (int64_t)scratch.prefix_ifs;
}

fp_writer *fp_writer_open_pcapng(fp_out *o, const uint8_t *prefix, size_t prefix_len,
                                 int big_endian, fp_werror *e)
{
    fp_writer *w = writer_new(o, FP_WFORMAT_PCAPNG, e);
    if (!w)
        return NULL;
    w->big_endian = big_endian != 0;
    if (prefix) {
        if (check_prefix(w, prefix, prefix_len, e) < 0 ||
            fp_out_write(o, prefix, prefix_len, e) < 0)
            return writer_fail(w);
        return w;
    }
    /* byte-order magic, version 1.0, section length unknown (-1), no options */
    uint8_t body[16];
    put32(body, BOM, w->big_endian);
    put16(body + 4, 1, w->big_endian);
    put16(body + 6, 0, w->big_endian);
    put64(body + 8, UINT64_MAX, w->big_endian);
    if (write_block(w, BT_SHB, body, sizeof body, e) < 0)
        return writer_fail(w);
    return w;
}

/* if_tsresol byte for units per second (10^k or 2^k), or -1. */
static int tsresol_code(uint64_t units)
{
    uint64_t p = 1;
    for (int k = 0; k <= 19; k++, p *= 10) {
        if (p == units)
            return k;
        if (k == 19)
            break;
    }
    if (units && (units & (units - 1)) == 0)
        return 0x80 | __builtin_ctzll(units);
    return -1;
}

int fp_writer_check_interface(const fp_winterface *ifc, fp_werror *e)
{
    if (ifc->linktype > 0xFFFF)
        return value_error(e, "linktype %u does not fit the 16 bits pcapng has for it", ifc->linktype);
    if (tsresol_code(ifc->tsresol) < 0)
        return value_error(e, "tsresol %llu is not a power of 10 or of 2 units per second",
                           (unsigned long long)ifc->tsresol);
    if (ifc->fcs_len > 0xFF)
        return value_error(e, "fcslen %u does not fit the byte if_fcslen has", ifc->fcs_len);
    size_t name_len = ifc->name ? strlen(ifc->name) : 0;
    if (name_len > 0xFFFF)
        return value_error(e, "interface name of %zu bytes: options hold at most 65535", name_len);
    return 0;
}

int64_t fp_writer_add_interface(fp_writer *w, const fp_winterface *ifc, fp_werror *e)
{
    if (w->format != FP_WFORMAT_PCAPNG)
        return value_error(e, "pcap files have one link type and no interfaces: use format='pcapng'");
    if (fp_writer_check_interface(ifc, e) < 0)
        return -1;
    int code = tsresol_code(ifc->tsresol);
    size_t name_len = ifc->name ? strlen(ifc->name) : 0;
    if (w->n_ifs == 0xFFFFFFFFu)
        return value_error(e, "too many interfaces");
    if (w->n_ifs == w->cap_ifs) {
        uint32_t cap = w->cap_ifs ? w->cap_ifs * 2 : 8;
        interface *grown = realloc(w->ifs, cap * sizeof *grown);
        if (!grown)
            return out_of_memory(e);
        w->ifs = grown;
        w->cap_ifs = cap;
    }
    interface *it = &w->ifs[w->n_ifs];
    it->ifc = *ifc;
    it->name = name_len ? strdup(ifc->name) : NULL;
    if (name_len && !it->name)
        return out_of_memory(e);
    it->ifc.name = it->name;
    uint32_t id = w->n_ifs++;
    if (id < w->prefix_ifs)
        return id;   /* the copied prefix declares it */
    /* linktype, reserved, snaplen, then options */
    uint8_t *body = malloc(8 + 4 + PAD4((uint32_t)name_len) + 8 + 8 + 4 + 12 + 4);
    if (!body)
        return out_of_memory(e);
    size_t n = 8;
    put16(body, (uint16_t)ifc->linktype, w->big_endian);
    put16(body + 2, 0, w->big_endian);
    put32(body + 4, ifc->snaplen, w->big_endian);
    if (name_len)
        n += put_option(body + n, OPT_IF_NAME, ifc->name, (uint16_t)name_len, w->big_endian);
    if (code != 6) {
        uint8_t v = (uint8_t)code;
        n += put_option(body + n, OPT_IF_TSRESOL, &v, 1, w->big_endian);
    }
    if (ifc->fcs_len) {
        uint8_t v = (uint8_t)ifc->fcs_len;
        n += put_option(body + n, OPT_IF_FCSLEN, &v, 1, w->big_endian);
    }
    if (ifc->tsoffset_s) {
        uint8_t v[8];
        put64(v, (uint64_t)ifc->tsoffset_s, w->big_endian);
        n += put_option(body + n, OPT_IF_TSOFFSET, v, 8, w->big_endian);
    }
    if (n > 8)
        n += put_option(body + n, OPT_ENDOFOPT, zeros, 0, w->big_endian);
    int rc = write_block(w, BT_IDB, body, n, e);
    free(body);
    return rc < 0 ? -1 : (int64_t)id;
}

/* Time -> units of the interface: the largest count u with
 * floor(u * 10^9 / R) + offset * 10^9 <= ts, i.e. floor(((t + 1) * R - 1) / 10^9). */
static int pcapng_units(const fp_winterface *ifc, int64_t ts_ns, uint64_t *units, fp_werror *e)
{
    i128 t = (i128)ts_ns - (i128)ifc->tsoffset_s * NS;
    if (t < 0)
        return value_error(e, "time %lld ns is before the interface's epoch (1970 plus "
                           "if_tsoffset %lld s): pcapng timestamps are unsigned",
                           (long long)ts_ns, (long long)ifc->tsoffset_s);
    i128 limit = ((i128)UINT64_MAX + 1) * NS / (i128)ifc->tsresol;   /* keeps the product below 2^96 */
    i128 u = t <= limit ? ((t + 1) * (i128)ifc->tsresol - 1) / NS : (i128)UINT64_MAX + 1;
    if (u > (i128)UINT64_MAX)
        return value_error(e, "time %lld ns does not fit 64 bits of units of 1/%llu s",
                           (long long)ts_ns, (unsigned long long)ifc->tsresol);
    *units = (uint64_t)u;
    return 0;
}

static int write_pcapng(fp_writer *w, const fp_wpacket *p, fp_werror *e)
{
    if (p->interface_id >= w->n_ifs)
        return value_error(e, "interface %u does not exist (%u declared)", p->interface_id, w->n_ifs);
    const fp_winterface *ifc = &w->ifs[p->interface_id].ifc;
    if (check_lengths(p, ifc->snaplen, e) < 0)
        return -1;
    if (p->comment && p->comment_len > 0xFFFF)
        return value_error(e, "comment of %zu bytes: pcapng options hold at most 65535",
                           p->comment_len);
    uint64_t units = 0;
    if (pcapng_units(ifc, p->ts_ns, &units, e) < 0)
        return -1;
    size_t opts = packet_options(w, p, NULL);
    uint64_t total = 32 + (uint64_t)PAD4(p->caplen) + opts;
    if (total > 0xFFFFFFFFu)
        return value_error(e, "packet of %u bytes with %zu bytes of options does not fit a "
                           "pcapng block", p->caplen, opts);
    uint8_t h[28];
    put32(h, BT_EPB, w->big_endian);
    put32(h + 4, (uint32_t)total, w->big_endian);
    put32(h + 8, p->interface_id, w->big_endian);
    put32(h + 12, (uint32_t)(units >> 32), w->big_endian);
    put32(h + 16, (uint32_t)units, w->big_endian);
    put32(h + 20, p->caplen, w->big_endian);
    put32(h + 24, p->wirelen, w->big_endian);
    if (fp_out_write(w->out, h, sizeof h, e) < 0 || fp_out_write(w->out, p->data, p->caplen, e) < 0 ||
        fp_out_write(w->out, zeros, PAD4(p->caplen) - p->caplen, e) < 0)
        return -1;
    if (opts) {
        uint8_t stack[256];
        uint8_t *buf = opts <= sizeof stack ? stack : malloc(opts);
        if (!buf)
            return out_of_memory(e);
        packet_options(w, p, buf);
        int rc = fp_out_write(w->out, buf, opts, e);
        if (buf != stack)
            free(buf);
        if (rc < 0)
            return -1;
    }
    uint8_t t[4];
    put32(t, (uint32_t)total, w->big_endian);
    return fp_out_write(w->out, t, 4, e);
}

/* ---- common ------------------------------------------------------------------ */

fp_wformat fp_writer_format(const fp_writer *w) { return w->format; }
uint32_t fp_writer_interface_count(const fp_writer *w) { return w->n_ifs; }
fp_out *fp_writer_out(fp_writer *w) { return w->out; }

const fp_winterface *fp_writer_interface(const fp_writer *w, uint32_t id)
{
    return id < w->n_ifs ? &w->ifs[id].ifc : NULL;
}

uint64_t fp_writer_record_size(const fp_writer *w, const fp_wpacket *p)
{
    if (w->format == FP_WFORMAT_PCAP)
        return 16 + (uint64_t)p->caplen;
    return 32 + (uint64_t)PAD4(p->caplen) + packet_options(w, p, NULL);
}

int fp_writer_write(fp_writer *w, const fp_wpacket *p, fp_werror *e)
{
    return w->format == FP_WFORMAT_PCAP ? write_pcap(w, p, e) : write_pcapng(w, p, e);
}

static void writer_free(fp_writer *w)
{
    for (uint32_t i = 0; i < w->n_ifs; i++)
        free(w->ifs[i].name);
    free(w->ifs);
    free(w);
}

int fp_writer_commit(fp_writer *w, fp_werror *e)
{
    int rc = fp_out_commit(w->out, e);
    writer_free(w);
    return rc;
}

void fp_writer_abort(fp_writer *w)
{
    if (!w)
        return;
    fp_out_abort(w->out);
    writer_free(w);
}
