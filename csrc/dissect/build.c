/* Building a stack of layers (build.h): layout, fixed fields from the tables, auto fields
 * inner layer first, the pseudo-header sums the transports share, and Raw. */
#include "build.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cursor.h"

int fp_build_err(fp_bctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return -1;
}

static const fp_bfield *var_field(const fp_bproto *p)
{
    for (int f = 0; f < p->nfields; f++)
        if (p->fields[f].kind == FP_BK_VAR) return &p->fields[f];
    return NULL;
}

int64_t fp_build_plan(fp_bctx *c)
{
    uint64_t off = 0;
    for (int i = 0; i < c->n; i++) {
        fp_blayer *l = &c->L[i];
        const fp_bproto *p = l->p;
        for (int f = 0; f < p->nfields; f++) {
            uint64_t v;
            if ((p->fields[f].flags & FP_BF_NEXT) && !fp_bset(l, f))
                l->v[f] = (i + 1 < c->n && p->next_value && p->next_value(c->L[i + 1].p->id, &v))
                              ? v : p->fields[f].dflt;
        }
        uint32_t var = l->var_len, pad = 0;
        if (p->var_align > 1 && var % p->var_align) pad = p->var_align - var % p->var_align;
        /* IPv6 options headers: the fixed 2 bytes count towards the 8-byte unit */
        if (p->var_align == 8 && p->hlen == 2) pad = (8 - (2 + var) % 8) % 8;
        if (l->var_unpadded) pad = 0;
        if ((uint64_t)var + pad > p->var_max) {
            const fp_bfield *vf = var_field(p);
            return fp_build_err(c, "%s.%s: %u bytes do not fit (at most %u)", p->name,
                                vf ? vf->name : "payload", var + pad, (unsigned)p->var_max);
        }
        l->off = (uint32_t)off;
        l->hlen = (p->hlen_of ? p->hlen_of(l) : p->hlen) + var + pad;
        off += l->hlen;
        if (off > 0x10000000u) return fp_build_err(c, "%s: packet over 256 MiB", p->name);
    }
    uint64_t end = off;
    for (int i = c->n - 1; i >= 0; i--) {
        c->L[i].end = (uint32_t)end;
        end += c->L[i].trailer_len;
        if (end > 0x10000000u) return fp_build_err(c, "%s: packet over 256 MiB", c->L[i].p->name);
    }
    return (int64_t)end;
}

static void put_be(uint8_t *p, unsigned width, uint64_t v)
{
    for (unsigned k = width; k-- > 0; v >>= 8) p[k] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, unsigned width)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < width; k++) v = v << 8 | p[k];
    return v;
}

static void write_fields(const fp_blayer *l, uint8_t *h)
{
    const fp_bproto *p = l->p;
    for (int f = 0; f < p->nfields; f++) {
        const fp_bfield *fd = &p->fields[f];
        if (fd->flags & FP_BF_COND) continue;
        switch (fd->kind) {
        case FP_BK_UINT: {
            uint64_t mask = fd->bits >= 64 ? ~0ull : (1ull << fd->bits) - 1;
            uint64_t w = get_be(h + fd->off, fd->width);
            w = (w & ~(mask << fd->shift)) | ((l->v[f] & mask) << fd->shift);
            put_be(h + fd->off, fd->width, w);
            break;
        }
        case FP_BK_IP4: put_be(h + fd->off, 4, l->v[f]); break;
        case FP_BK_MAC: put_be(h + fd->off, 6, l->v[f]); break;
        case FP_BK_IP6: memcpy(h + fd->off, l->a6[fd->slot], 16); break;
        default: break;
        }
    }
}

int fp_build_write(fp_bctx *c)
{
    for (int i = 0; i < c->n; i++) {
        const fp_blayer *l = &c->L[i];
        uint8_t *h = c->out + l->off;
        memset(h, 0, l->hlen);
        write_fields(l, h);
        if (l->p->write) l->p->write(l, h);
        if (l->var_len) memcpy(h + (l->p->hlen_of ? l->p->hlen_of(l) : l->p->hlen), l->var, l->var_len);
        if (l->trailer_len) memcpy(c->out + l->end, l->trailer, l->trailer_len);
    }
    for (int i = c->n - 1; i >= 0; i--)
        if (c->L[i].p->finish && c->L[i].p->finish(c, i) < 0) return -1;
    return 0;
}

/* The 16-bit sum of the pseudo header, -1 with no IP below. Scapy's in4_chksum: the IP
 * below gives the addresses; an explicit total length gives the upper-layer length
 * (len - 4*ihl); in6_chksum: the final destination of a routing header with segments left. */
static int64_t pseudo_sum(const fp_bctx *c, int i, uint8_t proto)
{
    const fp_blayer *t = &c->L[i];
    uint32_t uplen = t->end - t->off;
    int j = i - 1;
    const uint8_t *final6 = NULL;
    while (j >= 0 && (c->L[j].p->id == FP_B_IP6_HOP || c->L[j].p->id == FP_B_IP6_RT ||
                      c->L[j].p->id == FP_B_IP6_FRAG || c->L[j].p->id == FP_B_IP6_DEST)) {
        const fp_blayer *e = &c->L[j];
        if (e->p->id == FP_B_IP6_RT && (fp_bset(e, 3) ? e->v[3] : e->var_len / 16) != 0 && e->var_len >= 16)
            final6 = c->out + e->off + 8 + e->var_len - 16;
        j--;
    }
    if (j < 0) return -1;
    const fp_blayer *ip = &c->L[j];
    const uint8_t *h = c->out + ip->off;
    uint8_t ph[40];
    if (ip->p->id == FP_B_IP4) {
        if (j != i - 1) return -1;
        if (fp_bset(ip, 3)) { /* len given: Scapy takes the upper-layer length from it */
            uint32_t ihl = fp_bset(ip, 1) ? (uint32_t)(h[0] & 15) * 4 : ip->hlen;
            uint32_t tot = fp_load_be16(h + 2);
            uplen = tot > ihl ? tot - ihl : 0;
        }
        memcpy(ph, h + 12, 8);
        ph[8] = 0;
        ph[9] = proto;
        put_be(ph + 10, 2, uplen & 0xffff);
        return (uint16_t)~fp_inet_checksum(ph, 12, 0);
    }
    if (ip->p->id == FP_B_IP6) {
        memcpy(ph, h + 8, 16);
        memcpy(ph + 16, final6 ? final6 : h + 24, 16);
        uint8_t tail[8] = {0};
        put_be(tail, 4, uplen);
        tail[7] = proto;
        uint32_t s = (uint16_t)~fp_inet_checksum(ph, 32, 0);
        s += (uint16_t)~fp_inet_checksum(tail, 8, 0);
        return s;
    }
    return -1;
}

void fp_build_checksum(fp_bctx *c, int i, int field, uint32_t at, uint32_t initial, int zero_is_ffff)
{
    fp_blayer *l = &c->L[i];
    if (fp_bset(l, field)) return;
    uint8_t *h = c->out + l->off;
    h[at] = h[at + 1] = 0;
    uint16_t ck = fp_inet_checksum(h, l->end - l->off, initial);
    if (ck == 0 && zero_is_ffff) ck = 0xffff;
    put_be(h + at, 2, ck);
}

void fp_build_l4_checksum(fp_bctx *c, int i, uint8_t proto, int field, uint32_t at, int zero_is_ffff)
{
    int64_t ph = pseudo_sum(c, i, proto);
    if (ph >= 0) fp_build_checksum(c, i, field, at, (uint32_t)ph, zero_is_ffff);
}

int fp_bfield_present(const fp_blayer *l, int f)
{
    if (!(l->p->fields[f].flags & FP_BF_COND)) return 1;
    return l->p->id == FP_B_ICMP && fp_icmp_field_present(l, f);
}

static const fp_bfield raw_fields[] = {
    {"load", FP_BK_VAR, 0, 0, 0, 0, 0, 0, 0},
};

const fp_bproto fp_bproto_raw = {"Raw", FP_B_RAW, 0, 1, 0, 0xfffffff, raw_fields, NULL, NULL, NULL, NULL};

const fp_bproto *fp_bproto_of(int id)
{
    static const fp_bproto *const all[] = {
        &fp_bproto_ether, &fp_bproto_vlan,    &fp_bproto_arp,      &fp_bproto_ip4,
        &fp_bproto_ip6,   &fp_bproto_ip6_hop, &fp_bproto_ip6_rt,   &fp_bproto_ip6_frag,
        &fp_bproto_ip6_dest, &fp_bproto_tcp,  &fp_bproto_udp,      &fp_bproto_icmp,
        &fp_bproto_icmp6_req, &fp_bproto_icmp6_rep, &fp_bproto_dns, &fp_bproto_raw,
    };
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        if (all[k]->id == id) return all[k];
    return NULL;
}
