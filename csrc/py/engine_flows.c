/* Flow records for Python: the columns of one flow (FLOW_COLUMNS) as a Flow struct
 * sequence, and every kept flow as typed column buffers for Flows.to_pandas(). */
#include "pyfp.h"
#include "columns.h"
#include "engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- columns ----------------------------------------------------------- */

typedef enum { CK_U64, CK_U32, CK_U8, CK_F64, CK_TIME, CK_MU64, CK_MU16, CK_MU8, CK_CAT, CK_IP } col_kind;

#define FLOW_COLUMNS(X)                                                                        \
    X(flow_id, CK_U64, "creation order") X(first_seen, CK_TIME, "first packet (seconds)")     \
    X(last_seen, CK_TIME, "last packet (seconds)") X(duration, CK_F64, "seconds")            \
    X(src_ip, CK_IP, "client address") X(dst_ip, CK_IP, "server address")                    \
    X(src_port, CK_MU16, "client port") X(dst_port, CK_MU16, "server port")                  \
    X(protocol, CK_U8, "IP protocol number") X(protocol_name, CK_CAT, "TCP, UDP, ICMP ...")  \
    X(ip_version, CK_U8, "4 or 6") X(vlan, CK_MU16, "outer VLAN id")                         \
    X(tunnel, CK_CAT, "innermost encapsulation: VXLAN, GRE, PPTP, GTP_U, MPLS ...")                \
    X(tunnel_id, CK_MU64, "its VNI, GRE key, ERSPAN or PPPoE session (keyed on)")             \
    X(icmp_type, CK_MU8, "first packet's ICMP type") X(icmp_code, CK_MU8, "its code")        \
    X(fwd_packets, CK_U64, "client to server") X(fwd_bytes, CK_U64, "wire bytes")            \
    X(rev_packets, CK_U64, "server to client") X(rev_bytes, CK_U64, "wire bytes")            \
    X(packets, CK_U64, "both ways") X(bytes, CK_U64, "wire bytes both ways")                 \
    X(fwd_payload_bytes, CK_U64, "L4 payload") X(rev_payload_bytes, CK_U64, "L4 payload")    \
    X(syn, CK_U32, "SYN without ACK") X(synack, CK_U32, "SYN+ACK") X(fin, CK_U32, "FIN")     \
    X(rst, CK_U32, "RST") X(psh, CK_U32, "PSH") X(urg, CK_U32, "URG") X(ece, CK_U32, "ECE")  \
    X(cwr, CK_U32, "CWR") X(conn_state, CK_CAT, "Zeek conn_state")                           \
    X(history, CK_CAT, "Zeek history") X(rtt_syn_synack, CK_F64, "seconds")                  \
    X(rtt_synack_ack, CK_F64, "seconds") X(retransmits, CK_U32, "data segments seen again")  \
    X(fwd_acked_bytes, CK_MU64, "client bytes the server acknowledged")                      \
    X(rev_acked_bytes, CK_MU64, "server bytes the client acknowledged")                      \
    X(missed_bytes, CK_U64, "bytes in content gaps (Zeek's missed_bytes)")                    \
    X(out_of_order, CK_U32, "data segments filling a gap")                                   \
    X(fwd_size_min, CK_F64, "") X(fwd_size_mean, CK_F64, "") X(fwd_size_max, CK_F64, "")     \
    X(fwd_size_std, CK_F64, "") X(rev_size_min, CK_F64, "") X(rev_size_mean, CK_F64, "")     \
    X(rev_size_max, CK_F64, "") X(rev_size_std, CK_F64, "") X(fwd_iat_min, CK_F64, "")       \
    X(fwd_iat_mean, CK_F64, "") X(fwd_iat_max, CK_F64, "") X(fwd_iat_std, CK_F64, "")        \
    X(rev_iat_min, CK_F64, "") X(rev_iat_mean, CK_F64, "") X(rev_iat_max, CK_F64, "")        \
    X(rev_iat_std, CK_F64, "") X(sni, CK_CAT, "TLS server name") X(alpn, CK_CAT, "first ALPN offered")  \
    X(ja3, CK_CAT, "JA3 hash of the ClientHello") X(ja4, CK_CAT, "JA4 of the ClientHello")      \
    X(http_host, CK_CAT, "")                                                                \
    X(http_method, CK_CAT, "") X(dns_qname, CK_CAT, "") X(dns_rcode, CK_MU8, "")             \
    X(anomalies, CK_CAT, "comma-joined names") X(expiration, CK_CAT, "why the flow ended")

#define COL_ENUM(name, kind, doc) COL_##name,
enum { FLOW_COLUMNS(COL_ENUM) NUM_COLS };
#define COL_SPEC(name, kind, doc) {#name, kind, doc},
static const struct {
    const char *name;
    col_kind kind;
    const char *doc;
} cols[NUM_COLS] = {FLOW_COLUMNS(COL_SPEC)};

static int kind_width(col_kind k)
{
    switch (k) {
    case CK_U64: case CK_F64: case CK_TIME: case CK_MU64: return 8;
    case CK_U32: case CK_CAT: case CK_IP: return 4;
    case CK_MU16: return 2;
    default: return 1;
    }
}
static const char *kind_dtype(col_kind k)
{
    switch (k) {
    case CK_U64: return "<u8";
    case CK_U32: return "<u4";
    case CK_U8: return "<u1";
    case CK_F64: return "<f8";
    case CK_TIME: return "datetime64[ns]";
    case CK_MU64: return "masked<u8";
    case CK_MU16: return "masked<u2";
    case CK_MU8: return "masked<u1";
    default: return "category";
    }
}

/* One flow as column values: numbers in u/f, text (or a 17-byte address key) in s. */
typedef struct {
    uint64_t u[NUM_COLS];
    double f[NUM_COLS];
    uint8_t present[NUM_COLS];
    const char *s[NUM_COLS];
    size_t slen[NUM_COLS];
    uint8_t addr[2][17]; /* version byte + 16 address bytes */
    char anomalies[1024];
    char proto_buf[16];
} flow_row;

static const char *protocol_name(uint8_t proto, char *buf, size_t cap)
{
    switch (proto) {
    case 1: return "ICMP";
    case 2: return "IGMP";
    case 6: return "TCP";
    case 17: return "UDP";
    case 41: return "IPv6";
    case 47: return "GRE";
    case 50: return "ESP";
    case 51: return "AH";
    case 58: return "ICMPv6";
    case 89: return "OSPF";
    case 103: return "PIM";
    case 112: return "VRRP";
    case 132: return "SCTP";
    }
    snprintf(buf, cap, "IP-%u", proto);
    return buf;
}

/* Sample standard deviation from the sums of n values' differences to a shift (d) and of
 * their squares (dd); the shift (the first value) keeps the subtraction well conditioned. */
static double sample_std(double d, double dd, uint64_t n)
{
    if (n < 2) return NAN;
    double m2 = dd - d * d / (double)n;
    return m2 > 0 ? sqrt(m2 / (double)(n - 1)) : 0.0;
}

static void set_u(flow_row *r, int c, uint64_t v, int present)
{
    r->u[c] = v;
    r->present[c] = (uint8_t)present;
}
static void set_s(flow_row *r, int c, const char *s, size_t n)
{
    r->s[c] = s;
    r->slen[c] = n;
}
static void set_text(flow_row *r, int c, const char *s) { set_s(r, c, s, s ? strlen(s) : 0); }

static void row_dir(flow_row *r, const fp_flow_dir *d, int size_col, int iat_col)
{
    int has = d->packets > 0, has_iat = d->packets > 1;
    r->f[size_col] = has ? d->size_min : NAN;
    r->f[size_col + 1] = has ? (double)d->bytes / (double)d->packets : NAN;
    r->f[size_col + 2] = has ? d->size_max : NAN;
    r->f[size_col + 3] = sample_std(d->size_d, d->size_dd, d->packets);
    r->f[iat_col] = has_iat ? (double)d->iat_min_ns / 1e9 : NAN;
    r->f[iat_col + 1] = has_iat ? (double)d->iat_sum_ns / (double)(d->packets - 1) / 1e9 : NAN;
    r->f[iat_col + 2] = has_iat ? (double)d->iat_max_ns / 1e9 : NAN;
    r->f[iat_col + 3] = has_iat ? sample_std(d->iat_d, d->iat_dd, d->packets - 1) / 1e9 : NAN;
}

static void row_anomalies(flow_row *r, const fp_flow *f)
{
    size_t n = 0;
    r->anomalies[0] = 0;
    for (int b = 0; b < FP_ANOM_COUNT_BITS; b++)
        if ((f->anomalies >> b) & 1)
            n += (size_t)snprintf(r->anomalies + n, sizeof r->anomalies - n, "%s%s", n ? "," : "", fp_anomaly_names[b]);
    for (int b = 0; b < FP_FLOW_ANOM_COUNT_BITS; b++)
        if (f->flow_anomalies & (1u << b))
            n += (size_t)snprintf(r->anomalies + n, sizeof r->anomalies - n, "%s%s", n ? "," : "", fp_flow_anomaly_names[b]);
    set_s(r, COL_anomalies, r->anomalies, n);
}

/* Data bytes of one side its peer acknowledged (past the SYN; the FIN octet excluded). */
static uint64_t acked_bytes(const fp_flow_dir *d)
{
    uint32_t n = d->acked - (d->z_start + 1);
    return (int32_t)n > 0 ? n : 0;
}

static double rtt(int64_t a, int64_t b)
{
    return (a == FP_FLOW_NO_TIME || b == FP_FLOW_NO_TIME) ? NAN : (double)(b - a) / 1e9;
}

static void row_fill(flow_row *r, const fp_flow *f)
{
    memset(r->present, 1, sizeof r->present);
    const fp_flow_key *k = &f->key;
    const uint8_t *src = f->client_is_b ? k->b : k->a, *dst = f->client_is_b ? k->a : k->b;
    uint16_t sport = f->client_is_b ? k->pb : k->pa, dport = f->client_is_b ? k->pa : k->pb;
    const fp_flow_dir *fw = &f->dir[0], *rv = &f->dir[1];
    r->u[COL_flow_id] = f->flow_id;
    r->u[COL_first_seen] = (uint64_t)f->first_ns;
    r->u[COL_last_seen] = (uint64_t)f->last_ns;
    r->f[COL_duration] = (double)(f->conn_last_ns - f->first_ns) / 1e9; /* Zeek's rule */
    r->addr[0][0] = r->addr[1][0] = k->ip_version;
    memcpy(r->addr[0] + 1, src, 16);
    memcpy(r->addr[1] + 1, dst, 16);
    set_s(r, COL_src_ip, (const char *)r->addr[0], 17);
    set_s(r, COL_dst_ip, (const char *)r->addr[1], 17);
    int ports = k->has_ports && (k->proto == 6 || k->proto == 17);
    set_u(r, COL_src_port, sport, ports);
    set_u(r, COL_dst_port, dport, ports);
    r->u[COL_protocol] = k->proto;
    set_text(r, COL_protocol_name, protocol_name(k->proto, r->proto_buf, sizeof r->proto_buf));
    r->u[COL_ip_version] = k->ip_version;
    set_u(r, COL_vlan, k->vlan, k->vlan != FP_FLOW_NO_VLAN);
    uint8_t tun = k->tunnel_type & (uint8_t)~FP_FLOW_TUNNEL_HAS_ID;
    set_text(r, COL_tunnel, tun && tun < FP_TUN_COUNT ? fp_tunnel_names[tun] : NULL);
    set_u(r, COL_tunnel_id, k->tunnel_id, (k->tunnel_type & FP_FLOW_TUNNEL_HAS_ID) != 0);
    int icmp = k->proto == 1 || k->proto == 58;
    set_u(r, COL_icmp_type, f->icmp_type, icmp);
    set_u(r, COL_icmp_code, f->icmp_code, icmp);
    r->u[COL_fwd_packets] = fw->packets;
    r->u[COL_fwd_bytes] = fw->bytes;
    r->u[COL_rev_packets] = rv->packets;
    r->u[COL_rev_bytes] = rv->bytes;
    r->u[COL_packets] = fw->packets + rv->packets;
    r->u[COL_bytes] = fw->bytes + rv->bytes;
    r->u[COL_fwd_payload_bytes] = fw->payload_bytes;
    r->u[COL_rev_payload_bytes] = rv->payload_bytes;
    r->u[COL_syn] = f->syn;
    r->u[COL_synack] = f->synack;
    r->u[COL_fin] = f->fin;
    r->u[COL_rst] = f->rst;
    r->u[COL_psh] = f->psh;
    r->u[COL_urg] = f->urg;
    r->u[COL_ece] = f->ece;
    r->u[COL_cwr] = f->cwr;
    set_text(r, COL_conn_state, fp_conn_state_names[fp_flow_conn_state(f)]);
    set_s(r, COL_history, f->history, strlen(f->history));
    r->f[COL_rtt_syn_synack] = rtt(f->syn_ns, f->synack_ns);
    r->f[COL_rtt_synack_ack] = rtt(f->synack_ns, f->ack_ns);
    r->u[COL_retransmits] = f->retransmits;
    int tcp = k->proto == 6;
    set_u(r, COL_fwd_acked_bytes, acked_bytes(fw), tcp && fw->has_acked);
    set_u(r, COL_rev_acked_bytes, acked_bytes(rv), tcp && rv->has_acked);
    r->u[COL_missed_bytes] = fw->missed + rv->missed;
    r->u[COL_out_of_order] = f->out_of_order;
    row_dir(r, fw, COL_fwd_size_min, COL_fwd_iat_min);
    row_dir(r, rv, COL_rev_size_min, COL_rev_iat_min);
    const fp_flow_hints *h = f->hints;
    set_s(r, COL_sni, h && h->sni_len ? h->sni : NULL, h ? h->sni_len : 0);
    set_s(r, COL_alpn, h && h->alpn_len ? h->alpn : NULL, h ? h->alpn_len : 0);
    set_text(r, COL_ja3, h && h->ja3[0] ? h->ja3 : NULL);
    set_text(r, COL_ja4, h && h->ja4[0] ? h->ja4 : NULL);
    set_s(r, COL_http_host, h && h->http_host_len ? h->http_host : NULL, h ? h->http_host_len : 0);
    set_s(r, COL_http_method, h && h->http_method_len ? h->http_method : NULL, h ? h->http_method_len : 0);
    set_s(r, COL_dns_qname, h && h->dns_qname_len ? h->dns_qname : NULL, h ? h->dns_qname_len : 0);
    set_u(r, COL_dns_rcode, h && h->dns_rcode >= 0 ? (uint64_t)h->dns_rcode : 0, h && h->dns_rcode >= 0);
    row_anomalies(r, f);
    set_text(r, COL_expiration, fp_expiration_names[f->expiration]);
}

static PyObject *address_str(const uint8_t *key)
{
    return key[0] == 4 ? fp_ip4_str(key + 1) : fp_ip6_str(key + 1);
}

/* ---- Flows.columns() --------------------------------------------------------- */

PyObject *fp_flow_columns(fp_state *st, const fp_flow *flows, size_t count)
{
    Py_ssize_t n = (Py_ssize_t)count;
    PyObject *bufs[NUM_COLS] = {0}, *masks[NUM_COLS] = {0}, *result = NULL;
    fp_interner cats[NUM_COLS];
    memset(cats, 0, sizeof cats);
    uint8_t *val[NUM_COLS], *mask[NUM_COLS] = {0};
    for (int c = 0; c < NUM_COLS; c++) {
        bufs[c] = PyByteArray_FromStringAndSize(NULL, n * kind_width(cols[c].kind));
        if (bufs[c] == NULL) goto done;
        val[c] = (uint8_t *)PyByteArray_AS_STRING(bufs[c]);
        if (cols[c].kind == CK_MU64 || cols[c].kind == CK_MU16 || cols[c].kind == CK_MU8) {
            masks[c] = PyByteArray_FromStringAndSize(NULL, n);
            if (masks[c] == NULL) goto done;
            mask[c] = (uint8_t *)PyByteArray_AS_STRING(masks[c]);
        }
    }
    Py_BEGIN_ALLOW_THREADS
    flow_row *r = malloc(sizeof *r);
    for (Py_ssize_t i = 0; r && i < n; i++) {
        row_fill(r, &flows[i]);
        for (int c = 0; c < NUM_COLS; c++) {
            uint8_t *dst = val[c] + (size_t)i * (size_t)kind_width(cols[c].kind);
            switch (cols[c].kind) {
            case CK_U64: case CK_TIME: memcpy(dst, &r->u[c], 8); break;
            case CK_U32: { uint32_t v = (uint32_t)r->u[c]; memcpy(dst, &v, 4); break; }
            case CK_U8: *dst = (uint8_t)r->u[c]; break;
            case CK_F64: memcpy(dst, &r->f[c], 8); break;
            case CK_MU64: memcpy(dst, &r->u[c], 8); mask[c][i] = !r->present[c]; break;
            case CK_MU16: { uint16_t v = (uint16_t)r->u[c]; memcpy(dst, &v, 2); mask[c][i] = !r->present[c]; break; }
            case CK_MU8: *dst = (uint8_t)r->u[c]; mask[c][i] = !r->present[c]; break;
            case CK_CAT: case CK_IP: {
                int32_t code = r->s[c] ? fp_intern_bytes(&cats[c], (const uint8_t *)r->s[c], r->slen[c]) : -1;
                memcpy(dst, &code, 4);
                break;
            }
            }
        }
    }
    if (r == NULL) cats[0].oom = 1;
    free(r);
    Py_END_ALLOW_THREADS
    for (int c = 0; c < NUM_COLS; c++)
        if (cats[c].oom) {
            PyErr_NoMemory();
            goto done;
        }
    result = PyList_New(0);
    if (result == NULL) goto done;
    for (int c = 0; c < NUM_COLS; c++) {
        PyObject *t;
        col_kind k = cols[c].kind;
        if (k == CK_CAT || k == CK_IP) {
            PyObject *names;
            if (k == CK_IP) { /* keys are a version tag + the address */
                names = PyList_New(cats[c].count);
                for (uint32_t j = 0; names && j < cats[c].count; j++) {
                    PyObject *o = address_str(fp_interner_key(&cats[c], j));
                    if (o == NULL) Py_CLEAR(names);
                    else PyList_SET_ITEM(names, j, o);
                }
            } else {
                names = fp_interner_categories(st, &cats[c], FP_CAT_TEXT);
            }
            t = names ? Py_BuildValue("(ssON)", cols[c].name, "category", bufs[c], names) : NULL;
        } else if (masks[c]) {
            t = Py_BuildValue("(ssOO)", cols[c].name, kind_dtype(k), bufs[c], masks[c]);
        } else {
            t = Py_BuildValue("(ssO)", cols[c].name, kind_dtype(k), bufs[c]);
        }
        if (t == NULL || PyList_Append(result, t) < 0) {
            Py_XDECREF(t);
            Py_CLEAR(result);
            goto done;
        }
        Py_DECREF(t);
    }
done:
    for (int c = 0; c < NUM_COLS; c++) {
        Py_XDECREF(bufs[c]);
        Py_XDECREF(masks[c]);
        fp_interner_free(&cats[c]);
    }
    return result;
}

/* ---- Flow records ----------------------------------------------------------- */

PyObject *fp_flow_record_new(fp_state *st, const fp_flow *f)
{
    flow_row r;
    row_fill(&r, f);
    PyObject *rec = PyStructSequence_New(st->Flow_Type);
    if (rec == NULL) return NULL;
    for (int c = 0; c < NUM_COLS; c++) {
        PyObject *v;
        switch (cols[c].kind) {
        case CK_U64: case CK_U32: case CK_U8: v = PyLong_FromUnsignedLongLong(r.u[c]); break;
        case CK_TIME: v = PyFloat_FromDouble((double)(int64_t)r.u[c] / 1e9); break;
        case CK_F64: v = PyFloat_FromDouble(r.f[c]); break;
        case CK_MU64: case CK_MU16: case CK_MU8: v = r.present[c] ? PyLong_FromUnsignedLongLong(r.u[c]) : Py_NewRef(Py_None); break;
        case CK_IP: v = address_str((const uint8_t *)r.s[c]); break;
        default: v = r.s[c] ? PyUnicode_DecodeUTF8(r.s[c], (Py_ssize_t)r.slen[c], "replace") : Py_NewRef(Py_None);
        }
        if (v == NULL) {
            Py_DECREF(rec);
            return NULL;
        }
        PyStructSequence_SetItem(rec, c, v);
    }
    return rec;
}

#define COL_FIELD(name, kind, doc) {#name, doc},
static PyStructSequence_Field flow_fields[NUM_COLS + 1] = {FLOW_COLUMNS(COL_FIELD){NULL, NULL}};
static PyStructSequence_Desc flow_desc = {
    "fastpkt.Flow",
    "One flow: the fields are the columns of Flows.to_pandas() (times as float seconds,\n"
    "missing values as None, NaN for unobserved floats).",
    flow_fields,
    NUM_COLS,
};

int fp_flow_record_register(PyObject *m, fp_state *st)
{
    if (fp_add_struct_type(m, &flow_desc, &st->Flow_Type, "FLOW_COLUMNS") < 0) return -1;
    return fp_add_view_method(st->Flow_Type);
}
