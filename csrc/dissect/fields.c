/* The field registry: name -> field over the per-protocol tables (each defined
 * next to its parser), nearest-name suggestions, the shared fixed-offset and
 * protocol accessors, and the frame's own fields (Wireshark's `frame.*`). */
#include <string.h>

#include "cursor.h"
#include "fields.h"

/* ---- frame ------------------------------------------------------------ */

static int frame_len(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    fp_field_value v = {f->arg ? x->frame_caplen : x->wirelen, NULL, 0};
    visit(arg, &v);
    return 1;
}

static int frame_time(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    (void)f;
    if (!x->has_ts)
        return 0;
    fp_field_value v = {(uint64_t)x->ts_ns, NULL, 0};
    visit(arg, &v);
    return 1;
}

static int frame_number(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    (void)f;
    if (x->number == 0)
        return 0;
    fp_field_value v = {x->number, NULL, 0};
    visit(arg, &v);
    return 1;
}

static int frame_bytes(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    (void)f;
    fp_field_value v = {0, x->data, x->caplen};
    visit(arg, &v);
    return 1;
}

static const fp_field frame_fields[] = {
    {"frame", FP_FT_PROTOCOL, 0, 0, 0, 0, 0, frame_bytes},
    {"frame.number", FP_FT_UINT, 32, 0, 0, 0, 0, frame_number},
    {"frame.len", FP_FT_UINT, 32, 0, 0, 0, 0, frame_len},
    {"frame.cap_len", FP_FT_UINT, 32, 0, 1, 0, 0, frame_len},
    {"frame.time_epoch", FP_FT_TIME, 64, 0, 0, 0, 0, frame_time},
};
FP_FIELD_TABLE(fp_fields_frame, "frame", frame_fields);

/* ---- registry --------------------------------------------------------- */

static const fp_field_table *const tables[] = {
    &fp_fields_frame, &fp_fields_radiotap, &fp_fields_wlan, &fp_fields_eth,  &fp_fields_vlan,  &fp_fields_ieee8021ad,
    &fp_fields_sll,   &fp_fields_arp,  &fp_fields_ip,    &fp_fields_ipv6,
    &fp_fields_tcp,   &fp_fields_udp,  &fp_fields_icmp,  &fp_fields_icmpv6,
    &fp_fields_dns,   &fp_fields_mdns, &fp_fields_llmnr, &fp_fields_http,
    &fp_fields_tls,   &fp_fields_quic, &fp_fields_gre,  &fp_fields_cmd, &fp_fields_erspan,
    &fp_fields_vxlan, &fp_fields_geneve, &fp_fields_gtp, &fp_fields_mpls, &fp_fields_pppoe,
    &fp_fields_pppoes, &fp_fields_ppp, &fp_fields_lcp, &fp_fields_ipcp, &fp_fields_ipv6cp, &fp_fields_chap, &fp_fields_pap,
};
#define N_TABLES (int)(sizeof tables / sizeof tables[0])

const fp_field *fp_field_lookup(const char *name)
{
    size_t plen = strcspn(name, ".");
    for (int t = 0; t < N_TABLES; t++) {
        const fp_field_table *tab = tables[t];
        if (strncmp(tab->name, name, plen) != 0 || tab->name[plen] != '\0')
            continue;
        for (int i = 0; i < tab->count; i++)
            if (strcmp(tab->fields[i].name, name) == 0)
                return &tab->fields[i];
        return NULL;
    }
    return NULL;
}

const fp_field *fp_field_at(int i)
{
    for (int t = 0; t < N_TABLES && i >= 0; t++) {
        if (i < tables[t]->count)
            return &tables[t]->fields[i];
        i -= tables[t]->count;
    }
    return NULL;
}

/* Levenshtein distance with one row, capped: names are short. */
#define SUGGEST_MAX_LEN 64
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
        return SUGGEST_MAX_LEN;
    int row[SUGGEST_MAX_LEN + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *fp_field_suggest(const char *name)
{
    const char *best = NULL;
    int best_d = (int)strlen(name) / 3 + 1; /* a third of the name may be wrong */
    if (best_d > 4)
        best_d = 4;
    const fp_field *f;
    for (int i = 0; (f = fp_field_at(i)) != NULL; i++) {
        int d = edit_distance(name, f->name);
        if (d <= best_d && (best == NULL || d < best_d)) {
            best = f->name;
            best_d = d;
        }
    }
    return best;
}

void fp_field_ctx_init(fp_field_ctx *x, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                       int64_t ts_ns, int has_ts, const fp_dissection *d)
{
    x->data = data;
    x->caplen = caplen;
    x->wirelen = wirelen;
    x->frame_caplen = caplen;
    x->ts_ns = ts_ns;
    x->has_ts = has_ts;
    x->number = 0;
    x->d = d;
    x->text[0] = '\0';
}

/* ---- shared accessors ------------------------------------------------- */

void fp_field_decode(const fp_field *f, const uint8_t *p, fp_field_value *v)
{
    v->p = p;
    v->len = f->type == FP_FT_MAC ? 6 : f->type == FP_FT_IPV6 ? 16 : f->bits / 8;
    uint64_t w = 0;
    if (f->type == FP_FT_UINT || f->type == FP_FT_BOOL || f->type == FP_FT_IPV4)
        for (int i = 0; i < f->bits / 8; i++)
            w = (w << 8) | p[i];
    if (f->mask) {
        w &= f->mask;
        for (uint32_t m = f->mask; (m & 1u) == 0; m >>= 1)
            w >>= 1;
    }
    v->u = f->type == FP_FT_BOOL ? w != 0 : w;
}

static uint32_t field_size(const fp_field *f)
{
    return f->type == FP_FT_MAC ? 6 : f->type == FP_FT_IPV6 ? 16 : f->bits / 8u;
}

const fp_span *fp_field_layer(const fp_dissection *d, int layer)
{
    if (FP_HAS(d, layer))
        return &d->layer[layer];
    /* a tunnel whose inner packet has no header of this kind (PPTP's LCP, IPv6 in IPv4): the
     * outermost IP header, kept in outer_ip, is the one tshark lists */
    if ((layer == FP_L_IP4 || layer == FP_L_IP6) && d->tunnel_count && d->outer_ip_id == layer)
        return &d->outer_ip;
    return NULL;
}

int fp_field_read_fixed(const fp_field *f, const fp_field_ctx *x, fp_field_value *v)
{
    const fp_span *s = fp_field_layer(x->d, f->layer);
    if (s == NULL)
        return 0;
    uint32_t limit = s->hlen ? s->off + s->hlen : s->end;
    if (f->offset > limit - s->off || field_size(f) > limit - s->off - f->offset)
        return 0;
    fp_field_decode(f, x->data + s->off + f->offset, v);
    return 1;
}

int fp_field_fixed(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    fp_field_value v;
    if (!fp_field_read_fixed(f, x, &v))
        return 0;
    visit(arg, &v);
    return 1;
}

int fp_field_length4(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    fp_field_value v;
    if (!fp_field_read_fixed(f, x, &v))
        return 0;
    v.u *= 4;
    visit(arg, &v);
    return 1;
}

int fp_field_protocol(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    const fp_span *s = fp_field_layer(x->d, f->layer);
    if (s == NULL)
        return 0;
    fp_field_value v = {0, x->data + s->off, s->end - s->off};
    visit(arg, &v);
    return 1;
}

int fp_field_pair(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    fp_field second = *f;
    second.offset = (uint16_t)(f->offset + f->arg);
    fp_field_value v;
    if (!fp_field_read_fixed(f, x, &v))
        return 0;
    if (visit(arg, &v) || !fp_field_read_fixed(&second, x, &v))
        return 1;
    visit(arg, &v);
    return 2;
}
