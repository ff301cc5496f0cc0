/* DNS messages (RFC 1035 sections 4.1.1-4.1.4, 3.3 for record data; RFC 3596 AAAA;
 * RFC 2782 SRV; AAAA text as fp_ip6_text writes it).
 * Names are printed in presentation form like dig: labels joined by '.', no
 * trailing dot, the root as "", '.' and '\' inside a label as "\." and "\\",
 * bytes outside 0x21..0x7e as "\DDD". Compression pointers (section 4.1.4) must
 * point strictly before the labels being read, so every jump goes backwards and
 * a loop is impossible; names are capped at 255 wire octets, and the pointer hops and
 * label bytes of a name and of a whole message are budgeted (dissect.h): a message built
 * of pointer chains costs no more per byte than ordinary traffic.
 * TXT rdata (section 3.3.14): the strings are concatenated without quotes or
 * separators (the way SPF/DKIM consumers join them); spaces stay literal,
 * '\' and bytes outside 0x20..0x7e are escaped as above.
 * fp_dns_iter.error holds the anomaly bit that stopped iteration
 * (FP_ANOM_DNS_NAME or FP_ANOM_DNS_MALFORMED). */
#include <stdio.h>
#include <string.h>

#include "cursor.h"
#include "dissect.h"
#include "fields.h"

#define DNS_MAX_WIRE_NAME 255

enum { NAME_BAD = -1, NAME_BUDGET = -2 };

/* What names may still cost in one message (NULL: a lone name, its own caps only). */
typedef struct {
    uint32_t *hops_left, *label_left;
    uint32_t *flags;
} name_budget;

/* Bounded output buffer: `over` latches when something did not fit. */
typedef struct {
    char *p;
    size_t cap, n;
    int over;
} sbuf;

static void sb_putc(sbuf *b, char ch)
{
    if (b->p == NULL)
        return;
    if (b->n + 1 >= b->cap) { /* keep room for the NUL */
        b->over = 1;
        return;
    }
    b->p[b->n++] = ch;
}

/* Labels escape '.', space and non-printables; TXT text keeps spaces literal. */
static void sb_escaped(sbuf *b, const uint8_t *s, size_t len, int is_label)
{
    uint8_t lowest = is_label ? 0x21 : 0x20;
    for (size_t i = 0; i < len; i++) {
        uint8_t ch = s[i];
        if (ch < lowest || ch > 0x7e) {
            sb_putc(b, '\\');
            sb_putc(b, (char)('0' + ch / 100));
            sb_putc(b, (char)('0' + ch / 10 % 10));
            sb_putc(b, (char)('0' + ch % 10));
            continue;
        }
        if (ch == '\\' || (is_label && ch == '.'))
            sb_putc(b, '\\');
        sb_putc(b, (char)ch);
    }
}

static void sb_printf_u(sbuf *b, unsigned long v)
{
    char tmp[24];
    int k = snprintf(tmp, sizeof tmp, "%lu", v);
    for (int i = 0; i < k; i++)
        sb_putc(b, tmp[i]);
}

static void sb_terminate(sbuf *b)
{
    if (b->p != NULL && b->cap > 0)
        b->p[b->n < b->cap ? b->n : b->cap - 1] = '\0';
}

/* Name reader core: `out` may be NULL to only validate. NAME_BAD for a name that breaks
 * the rules, NAME_BUDGET when the message's budget ran out inside it. */
static int read_name(const uint8_t *msg, uint32_t len, uint32_t off, sbuf *b, const name_budget *nb)
{
    if (off > len)
        return NAME_BAD;
    fp_cursor c = fp_cursor_make(msg, len);
    c.ptr += off;
    uint32_t segment_start = off, wire = 1, jumps = 0;
    int after = -1;
    for (;;) {
        uint8_t l, lo;
        if (fp_get_u8(&c, &l))
            return NAME_BAD;
        if (l == 0)
            break;
        if ((l & 0xc0) == 0xc0) {
            if (fp_get_u8(&c, &lo))
                return NAME_BAD;
            uint32_t target = ((uint32_t)(l & 0x3f) << 8) | lo;
            if (after < 0)
                after = (int)fp_cur_off(&c);
            if (target >= segment_start || ++jumps > FP_DNS_NAME_MAX_HOPS)
                return NAME_BAD;
            if (nb != NULL) {
                if (*nb->hops_left == 0)
                    return NAME_BUDGET;
                --*nb->hops_left;
                if (jumps > FP_DNS_NAME_HOPS)
                    *nb->flags |= FP_ANOM_DNS_POINTER_CHAIN;
            }
            c.ptr = msg + target;
            segment_start = target;
            continue;
        }
        if (l & 0xc0) /* 0x40 extended and 0x80 reserved label types */
            return NAME_BAD;
        wire += l + 1u;
        if (wire > DNS_MAX_WIRE_NAME || !fp_cur_has(&c, l))
            return NAME_BAD;
        if (nb != NULL) {
            if (*nb->label_left < l)
                return NAME_BUDGET;
            *nb->label_left -= l;
        }
        if (wire != l + 2u) /* not the first label */
            sb_putc(b, '.');
        sb_escaped(b, c.ptr, l, 1);
        c.ptr += l;
    }
    sb_terminate(b);
    if (b->over)
        return NAME_BAD;
    return after >= 0 ? after : (int)fp_cur_off(&c);
}

int fp_dns_iter_init(fp_dns_iter *it, const uint8_t *msg, uint32_t len)
{
    fp_cursor c = fp_cursor_make(msg, len);
    it->msg = msg;
    it->len = len;
    it->pos = 12;
    it->section = FP_DNS_QD;
    it->left = 0;
    it->error = 0;
    it->flags = 0;
    it->hops_left = FP_DNS_MSG_HOPS + len / 4;
    it->label_left = FP_DNS_MSG_LABEL_BYTES + (len > (UINT32_MAX - FP_DNS_MSG_LABEL_BYTES) / 4
                                                  ? UINT32_MAX - FP_DNS_MSG_LABEL_BYTES : 4 * len);
    if (!fp_cur_has(&c, 12)) {
        it->error = FP_ANOM_DNS_MALFORMED;
        return -1;
    }
    it->hdr.id = fp_peek_be16(&c, 0);
    it->hdr.flags = fp_peek_be16(&c, 2);
    it->hdr.qdcount = fp_peek_be16(&c, 4);
    it->hdr.ancount = fp_peek_be16(&c, 6);
    it->hdr.nscount = fp_peek_be16(&c, 8);
    it->hdr.arcount = fp_peek_be16(&c, 10);
    it->left = it->hdr.qdcount;
    return 0;
}

static uint16_t section_count(const fp_dns_header *h, int s)
{
    switch (s) {
    case FP_DNS_QD: return h->qdcount;
    case FP_DNS_AN: return h->ancount;
    case FP_DNS_NS: return h->nscount;
    default: return h->arcount;
    }
}

static int iter_fail(fp_dns_iter *it, int anomaly)
{
    it->error = anomaly;
    return -1;
}

/* One record; the name goes to `name` (may be NULL: validation only). */
static int iter_step(fp_dns_iter *it, fp_dns_record *rec, char *name, size_t namecap)
{
    if (it->error)
        return -1;
    while (it->left == 0) {
        if (it->section == FP_DNS_AR)
            return 0;
        it->section++;
        it->left = section_count(&it->hdr, it->section);
    }
    /* The counts promise more records than the message holds: a count problem,
     * not a bad name. */
    if (it->pos >= it->len)
        return iter_fail(it, FP_ANOM_DNS_MALFORMED);
    sbuf b = {name, namecap, 0, 0};
    name_budget nb = {&it->hops_left, &it->label_left, &it->flags};
    int p = read_name(it->msg, it->len, it->pos, &b, &nb);
    if (p < 0)
        return iter_fail(it, p == NAME_BUDGET ? FP_ANOM_DNS_POINTER_CHAIN : FP_ANOM_DNS_NAME);
    fp_cursor c = fp_cursor_make(it->msg, it->len);
    c.ptr += p;
    rec->section = (fp_dns_section)it->section;
    rec->ttl = 0;
    rec->rdlength = 0;
    if (fp_get_be16(&c, &rec->type) || fp_get_be16(&c, &rec->rclass))
        return iter_fail(it, FP_ANOM_DNS_MALFORMED);
    if (it->section != FP_DNS_QD) {
        if (fp_get_be32(&c, &rec->ttl) || fp_get_be16(&c, &rec->rdlength) ||
            !fp_cur_has(&c, rec->rdlength))
            return iter_fail(it, FP_ANOM_DNS_MALFORMED);
    }
    rec->rdata_off = fp_cur_off(&c);
    it->pos = rec->rdata_off + rec->rdlength;
    it->left--;
    return 1;
}

int fp_dns_iter_next(fp_dns_iter *it, fp_dns_record *rec)
{
    return iter_step(it, rec, rec->name, sizeof rec->name);
}

void fp_dissect_dns(fp_dctx *x, uint32_t off, uint32_t end, int validate)
{
    fp_set_layer(x->d, FP_L_DNS, off, 0, end);
    if (!validate)
        return;
    fp_dns_iter it;
    fp_dns_record rec;
    if (fp_dns_iter_init(&it, x->data + off, end - off) != 0) {
        x->d->anomalies |= FP_ANOM_DNS_MALFORMED;
        return;
    }
    int r;
    while ((r = iter_step(&it, &rec, NULL, 0)) == 1)
        ;
    x->d->anomalies |= it.flags;
    if (r < 0)
        x->d->anomalies |= (uint32_t)it.error;
}

uint32_t fp_dns_records_end(const uint8_t *msg, uint32_t len)
{
    fp_dns_iter it;
    fp_dns_record rec;
    if (fp_dns_iter_init(&it, msg, len) != 0) return UINT32_MAX;
    int r;
    while ((r = iter_step(&it, &rec, NULL, 0)) == 1)
        ;
    return r == 0 ? it.pos : UINT32_MAX;
}

int fp_dns_message(const uint8_t *data, const fp_dissection *d, const uint8_t **msg,
                   uint32_t *len)
{
    if (!FP_HAS(d, FP_L_DNS))
        return -1;
    *msg = data + d->layer[FP_L_DNS].off;
    *len = d->layer[FP_L_DNS].end - d->layer[FP_L_DNS].off;
    return 0;
}

/* ---- rdata ----------------------------------------------------------- */

static void put_text(sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sb_putc(b, s[i]);
}

static void put_ip4(sbuf *b, const uint8_t *p)
{
    char t[FP_IP4_TEXT_MAX];
    put_text(b, t, fp_ip4_text(p, t));
}

static void put_ip6(sbuf *b, const uint8_t *p)
{
    char t[FP_IP6_TEXT_MAX];
    put_text(b, t, fp_ip6_text(p, t));
}

/* A name inside rdata: must end within the rdata. */
static int put_name(sbuf *b, const uint8_t *msg, uint32_t len, uint32_t off, uint32_t rd_end)
{
    if (b->n + 1 >= b->cap) {
        b->over = 1;
        return -1;
    }
    sbuf sub = {b->p + b->n, b->cap - b->n, 0, 0};
    int next = read_name(msg, len, off, &sub, NULL);
    if (next < 0 || (uint32_t)next > rd_end)
        return -1;
    b->n += sub.n;
    if (sub.n == 0) /* the root name is written "." (RFC 1035 5.1), never left empty */
        sb_putc(b, '.');
    return next;
}

static int rdata_format(sbuf *b, const uint8_t *msg, uint32_t len, const fp_dns_record *rec)
{
    uint32_t off = rec->rdata_off, end = off + rec->rdlength;
    fp_cursor c = fp_cursor_make(msg, end);
    c.ptr += off;
    int next;
    switch (rec->type) {
    case 1: /* A */
        if (rec->rdlength != 4)
            return -1;
        put_ip4(b, c.ptr);
        return 0;
    case 28: /* AAAA */
        if (rec->rdlength != 16)
            return -1;
        put_ip6(b, c.ptr);
        return 0;
    case 2: case 5: case 12: /* NS, CNAME, PTR */
        return put_name(b, msg, len, off, end) < 0 ? -1 : 0;
    case 15: /* MX: preference exchange */
        if (!fp_cur_has(&c, 3))
            return -1;
        sb_printf_u(b, fp_peek_be16(&c, 0));
        sb_putc(b, ' ');
        return put_name(b, msg, len, off + 2, end) < 0 ? -1 : 0;
    case 33: /* SRV: priority weight port target */
        if (!fp_cur_has(&c, 7))
            return -1;
        for (int i = 0; i < 3; i++) {
            sb_printf_u(b, fp_peek_be16(&c, 2 * (size_t)i));
            sb_putc(b, ' ');
        }
        return put_name(b, msg, len, off + 6, end) < 0 ? -1 : 0;
    case 6: /* SOA: mname rname serial refresh retry expire minimum */
        if ((next = put_name(b, msg, len, off, end)) < 0)
            return -1;
        sb_putc(b, ' ');
        if ((next = put_name(b, msg, len, (uint32_t)next, end)) < 0)
            return -1;
        c.ptr = msg + next;
        if (fp_cur_left(&c) != 20)
            return -1;
        for (int i = 0; i < 5; i++) {
            sb_putc(b, ' ');
            sb_printf_u(b, fp_peek_be32(&c, 4 * (size_t)i));
        }
        return 0;
    case 16: /* TXT: one or more <character-string>s */
        if (rec->rdlength == 0)
            return -1;
        while (fp_cur_left(&c) > 0) {
            uint8_t slen;
            if (fp_get_u8(&c, &slen) || !fp_cur_has(&c, slen))
                return -1;
            sb_escaped(b, c.ptr, slen, 0);
            c.ptr += slen;
        }
        return 0;
    default:
        return -2;
    }
}

int fp_dns_rdata_text(const uint8_t *msg, uint32_t len, const fp_dns_record *rec, char *out,
                      size_t outcap)
{
    if (outcap == 0 || rec->rdata_off > len || rec->rdlength > len - rec->rdata_off)
        return -1;
    sbuf b = {out, outcap, 0, 0};
    int r = rdata_format(&b, msg, len, rec);
    sb_terminate(&b);
    if (r < 0)
        return r;
    return b.over ? -1 : (int)b.n;
}

/* ---- Fields (Wireshark's dns, mdns, llmnr) ----------------------------- */

/* The port that names the message's flavour: Wireshark tries the lower port first, so
 * 53 makes it DNS, else 5353 mDNS, else 5355 LLMNR (the fields are dns.* in all three). */
static uint16_t dns_port(const fp_dissection *d)
{
    uint16_t lo = d->sport < d->dport ? d->sport : d->dport;
    uint16_t hi = d->sport < d->dport ? d->dport : d->sport;
    return lo == 53 || lo == 5353 || lo == 5355 ? lo : hi;
}

/* The protocol field of the flavour (`arg`: its port). */
static int dns_protocol(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    if (!FP_HAS(x->d, FP_L_DNS) || dns_port(x->d) != f->offset)
        return 0;
    return fp_field_protocol(f, x, visit, arg);
}

/* Flags Wireshark shows for responses only (arg 1: AA, RA, RCODE), or for responses
 * and queries that set it (arg 2: AD, RFC 6840 5.7). */
static int dns_flag(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    fp_field qr = FP_FIELD_BOOL("", FP_L_DNS, 2, 16, 0x8000);
    fp_field_value r, v;
    if (!fp_field_read_fixed(&qr, x, &r) || !fp_field_read_fixed(f, x, &v) ||
        (f->arg && !r.u && !(f->arg == 2 && v.u)))
        return 0;
    visit(arg, &v);
    return 1;
}

enum { QRY_NAME, QRY_TYPE, QRY_CLASS, RESP_NAME, RESP_TYPE, RESP_CLASS, RESP_TTL, RESP_LEN,
       RR_A, RR_AAAA, RR_CNAME, RR_NS, RR_PTR, RR_MX };

/* A decoded name as the value, held in the context's scratch (valid during the visit). */
static void dns_text(fp_field_ctx *x, fp_field_value *v, const char *name)
{
    if (name[0] == '\0')
        name = "<Root>"; /* how Wireshark shows the root name */
    size_t n = strnlen(name, sizeof x->text - 1);
    memmove(x->text, name, n);
    x->text[n] = '\0';
    v->p = (const uint8_t *)x->text;
    v->len = (uint32_t)n;
}

/* A name in rdata at `off` (after `skip` bytes), decoded into the context's scratch. */
static int rdata_name(fp_field_ctx *x, const fp_dns_iter *it, const fp_dns_record *rec,
                      uint32_t skip, fp_field_value *v)
{
    sbuf b = {x->text, sizeof x->text, 0, 0};
    if (rec->rdlength < skip + 1 || read_name(it->msg, it->len, rec->rdata_off + skip, &b, NULL) < 0)
        return 0;
    dns_text(x, v, x->text);
    return 1;
}

/* One record's value of the field, 0 when the record has none. The class of mDNS
 * records drops its top bit (unicast-response / cache-flush, RFC 6762 18.12, 18.13). */
static int dns_record_value(const fp_field *f, fp_field_ctx *x, const fp_dns_iter *it,
                            const fp_dns_record *rec, int mdns, fp_field_value *v)
{
    const uint8_t *rd = it->msg + rec->rdata_off;
    int question = rec->section == FP_DNS_QD;
    if ((f->arg <= QRY_CLASS) != question)
        return 0;
    v->p = NULL;
    v->len = 0;
    switch (f->arg) {
    case QRY_NAME: case RESP_NAME: dns_text(x, v, rec->name); return 1;
    case QRY_TYPE: case RESP_TYPE: v->u = rec->type; return 1;
    case QRY_CLASS: case RESP_CLASS:
        v->u = mdns ? rec->rclass & 0x7fffu : rec->rclass;
        return rec->type != 41; /* OPT: the class is a UDP payload size (RFC 6891) */
    case RESP_TTL: v->u = rec->ttl; return rec->type != 41;
    case RESP_LEN: v->u = rec->rdlength; return 1;
    case RR_A:
        if (rec->type != 1 || rec->rdlength != 4)
            return 0;
        v->u = fp_load_be32(rd);
        v->p = rd;
        v->len = 4;
        return 1;
    case RR_AAAA:
        if (rec->type != 28 || rec->rdlength != 16)
            return 0;
        v->p = rd;
        v->len = 16;
        return 1;
    case RR_CNAME: return rec->type == 5 && rdata_name(x, it, rec, 0, v);
    case RR_NS: return rec->type == 2 && rdata_name(x, it, rec, 0, v);
    case RR_PTR: return rec->type == 12 && rdata_name(x, it, rec, 0, v);
    case RR_MX: return rec->type == 15 && rdata_name(x, it, rec, 2, v);
    default: return 0;
    }
}

static int dns_record_field(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    const uint8_t *msg;
    uint32_t len;
    fp_dns_iter it;
    fp_dns_record rec;
    if (fp_dns_message(x->data, x->d, &msg, &len) != 0 || fp_dns_iter_init(&it, msg, len) != 0)
        return 0;
    int mdns = dns_port(x->d) == 5353;
    int n = 0;
    while (fp_dns_iter_next(&it, &rec) == 1) {
        fp_field_value v;
        if (!dns_record_value(f, x, &it, &rec, mdns, &v))
            continue;
        n++;
        if (visit(arg, &v))
            break;
    }
    return n;
}

#define DNS_FLAG(name, mask, resp_only) \
    {name, mask == 0x7800 || mask == 0xf ? FP_FT_UINT : FP_FT_BOOL, 16, FP_L_DNS, resp_only, 2, \
     mask, dns_flag}
#define DNS_RR(name, type, bits, which) {name, type, bits, FP_L_DNS, which, 0, 0, dns_record_field}
static const fp_field dns_fields[] = {
    {"dns", FP_FT_PROTOCOL, 0, FP_L_DNS, 0, 53, 0, dns_protocol},
    FP_FIELD_UINT("dns.id", FP_L_DNS, 0, 16, 0),
    FP_FIELD_UINT("dns.flags", FP_L_DNS, 2, 16, 0),
    DNS_FLAG("dns.flags.response", 0x8000, 0),
    DNS_FLAG("dns.flags.opcode", 0x7800, 0),
    DNS_FLAG("dns.flags.authoritative", 0x0400, 1),
    DNS_FLAG("dns.flags.truncated", 0x0200, 0),
    DNS_FLAG("dns.flags.recdesired", 0x0100, 0),
    DNS_FLAG("dns.flags.recavail", 0x0080, 1),
    DNS_FLAG("dns.flags.z", 0x0040, 0),
    DNS_FLAG("dns.flags.authenticated", 0x0020, 2),
    DNS_FLAG("dns.flags.checkdisable", 0x0010, 0),
    DNS_FLAG("dns.flags.rcode", 0x000f, 1),
    FP_FIELD_UINT("dns.count.queries", FP_L_DNS, 4, 16, 0),
    FP_FIELD_UINT("dns.count.answers", FP_L_DNS, 6, 16, 0),
    FP_FIELD_UINT("dns.count.auth_rr", FP_L_DNS, 8, 16, 0),
    FP_FIELD_UINT("dns.count.add_rr", FP_L_DNS, 10, 16, 0),
    DNS_RR("dns.qry.name", FP_FT_STRING, 0, QRY_NAME),
    DNS_RR("dns.qry.type", FP_FT_UINT, 16, QRY_TYPE),
    DNS_RR("dns.qry.class", FP_FT_UINT, 16, QRY_CLASS),
    DNS_RR("dns.resp.name", FP_FT_STRING, 0, RESP_NAME),
    DNS_RR("dns.resp.type", FP_FT_UINT, 16, RESP_TYPE),
    DNS_RR("dns.resp.class", FP_FT_UINT, 16, RESP_CLASS),
    DNS_RR("dns.resp.ttl", FP_FT_UINT, 32, RESP_TTL),
    DNS_RR("dns.resp.len", FP_FT_UINT, 16, RESP_LEN),
    DNS_RR("dns.a", FP_FT_IPV4, 32, RR_A),
    DNS_RR("dns.aaaa", FP_FT_IPV6, 0, RR_AAAA),
    DNS_RR("dns.cname", FP_FT_STRING, 0, RR_CNAME),
    DNS_RR("dns.ns", FP_FT_STRING, 0, RR_NS),
    DNS_RR("dns.ptr.domain_name", FP_FT_STRING, 0, RR_PTR),
    DNS_RR("dns.mx.mail_exchange", FP_FT_STRING, 0, RR_MX),
};
FP_FIELD_TABLE(fp_fields_dns, "dns", dns_fields);

static const fp_field mdns_fields[] = {
    {"mdns", FP_FT_PROTOCOL, 0, FP_L_DNS, 0, 5353, 0, dns_protocol},
};
FP_FIELD_TABLE(fp_fields_mdns, "mdns", mdns_fields);

static const fp_field llmnr_fields[] = {
    {"llmnr", FP_FT_PROTOCOL, 0, FP_L_DNS, 0, 5355, 0, dns_protocol},
};
FP_FIELD_TABLE(fp_fields_llmnr, "llmnr", llmnr_fields);

/* ---- Building (build.h): Scapy's DNS (sections prepared by the caller) -- */
#include "build.h"

int fp_dns_name_put(uint8_t *out, size_t cap, const char *name, size_t len)
{
    size_t o = 0, start = 0;
    if (len && name[len - 1] == '.') len--; /* "example.com." is "example.com" */
    while (start < len) {
        size_t stop = start;
        while (stop < len && name[stop] != '.') stop++;
        size_t n = stop - start;
        if (n == 0 || n > 63 || o + 1 + n >= cap) return -1;
        out[o++] = (uint8_t)n;
        memcpy(out + o, name + start, n);
        o += n;
        start = stop + 1;
    }
    if (o + 1 > cap || o + 1 > 255) return -1;
    out[o++] = 0;
    return (int)o;
}

static const fp_bfield dns_bfields[] = {
    FP_BU("id", 0, 0, 2, 0, 16, 0),
    FP_BU("qr", 0, 2, 2, 15, 1, 0),
    FP_BU("opcode", 0, 2, 2, 11, 4, 0),
    FP_BU("aa", 0, 2, 2, 10, 1, 0),
    FP_BU("tc", 0, 2, 2, 9, 1, 0),
    FP_BU("rd", 0, 2, 2, 8, 1, 1),
    FP_BU("ra", 0, 2, 2, 7, 1, 0),
    FP_BU("z", 0, 2, 2, 6, 1, 0),
    FP_BU("ad", 0, 2, 2, 5, 1, 0),
    FP_BU("cd", 0, 2, 2, 4, 1, 0),
    FP_BU("rcode", 0, 2, 2, 0, 4, 0),
    FP_BU("qdcount", FP_BF_AUTO, 4, 2, 0, 16, 0),
    FP_BU("ancount", FP_BF_AUTO, 6, 2, 0, 16, 0),
    FP_BU("nscount", FP_BF_AUTO, 8, 2, 0, 16, 0),
    FP_BU("arcount", FP_BF_AUTO, 10, 2, 0, 16, 0),
    FP_BV("qd"),
    FP_BV("an"),
    FP_BV("ns"),
    FP_BV("ar"),
};
const fp_bproto fp_bproto_dns = {"DNS", FP_B_DNS, 12, 19, 0, 0xffff - 12, dns_bfields, NULL, NULL,
                                 NULL, NULL};
