/* TCP header and options (RFC 9293, csrc/dissect/tcp.c). */
#include "layer.h"

static PyObject *tcp_get_flags(PyObject *self, void *c)
{
    (void)c;
    const FpLayer *l = LAYER(self);
    return fp_tcpflags_new(l->pkt->st, fp_tcp_view_flags(l));
}

#define TCP_MAX_OPTS 40

typedef struct {
    fp_tcp_option o[TCP_MAX_OPTS];
    int n;
} tcp_opts;

static void tcp_read_options(const FpLayer *l, tcp_opts *t)
{
    int bad;
    t->n = fp_tcp_options(ldata(l), &l->pkt->d, t->o, TCP_MAX_OPTS, &bad);
    if (t->n < 0) t->n = 0;
}

/* Option value bytes (after kind and length), bounded by the TCP header. */
static const uint8_t *tcp_opt_value(const FpLayer *l, const fp_tcp_option *o, uint32_t *n)
{
    const fp_span *s = lspan(l);
    uint32_t hend = s->off + s->hlen;
    uint32_t start = o->off + 2, stop = o->off + o->len;
    if (o->len < 2 || start > hend) start = stop = o->off;
    if (stop > hend) stop = hend;
    *n = stop - start;
    return ldata(l) + start;
}

static PyObject *tuple_be32(const uint8_t *p, uint32_t count)
{
    PyObject *t = PyTuple_New(count);
    for (uint32_t i = 0; t != NULL && i < count; i++) {
        PyObject *v = PyLong_FromUnsignedLong(fp_load_be32(p + 4 * i));
        if (v == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

/* One option the way Scapy's TCPOptionsField.m2i gives it: a known name with a
 * decoded value when the length matches the format, else the raw bytes; unknown
 * kinds as (kind, bytes). */
static PyObject *tcp_option_obj(uint8_t kind, const uint8_t *v, uint32_t n)
{
    switch (kind) {
    case 0: return Py_BuildValue("(sO)", "EOL", Py_None);
    case 1: return Py_BuildValue("(sO)", "NOP", Py_None);
    case 2:
        if (n == 2) return Py_BuildValue("(si)", "MSS", fp_load_be16(v));
        return Py_BuildValue("(sy#)", "MSS", v, (Py_ssize_t)n);
    case 3:
        if (n == 1) return Py_BuildValue("(si)", "WScale", v[0]);
        return Py_BuildValue("(sy#)", "WScale", v, (Py_ssize_t)n);
    case 4: return Py_BuildValue("(sy#)", "SAckOK", v, (Py_ssize_t)n);
    case 5:
        if (n % 4 == 0) {
            PyObject *t = tuple_be32(v, n / 4);
            if (t == NULL) return NULL;
            if (n == 4) { /* Scapy unwraps one-element tuples */
                PyObject *one = Py_NewRef(PyTuple_GET_ITEM(t, 0));
                Py_DECREF(t);
                return Py_BuildValue("(sN)", "SAck", one);
            }
            return Py_BuildValue("(sN)", "SAck", t);
        }
        return Py_BuildValue("(sy#)", "SAck", v, (Py_ssize_t)n);
    case 8:
        if (n == 8) return Py_BuildValue("(s(kk))", "Timestamp", (unsigned long)fp_load_be32(v),
                                         (unsigned long)fp_load_be32(v + 4));
        return Py_BuildValue("(sy#)", "Timestamp", v, (Py_ssize_t)n);
    case 14:
        if (n == 3) return Py_BuildValue("(s(ii))", "AltChkSum", v[0], fp_load_be16(v + 1));
        return Py_BuildValue("(sy#)", "AltChkSum", v, (Py_ssize_t)n);
    case 15: return Py_BuildValue("(sy#)", "AltChkSumOpt", v, (Py_ssize_t)n);
    case 19: return Py_BuildValue("(sy#)", "MD5", v, (Py_ssize_t)n);
    case 25: return Py_BuildValue("(sy#)", "Mood", v, (Py_ssize_t)n);
    case 28:
        if (n == 2) return Py_BuildValue("(si)", "UTO", fp_load_be16(v));
        return Py_BuildValue("(sy#)", "UTO", v, (Py_ssize_t)n);
    case 29: return Py_BuildValue("(sy#)", "AO", v, (Py_ssize_t)n);
    case 34:
        if (n == 8) return Py_BuildValue("(s(kk))", "TFO", (unsigned long)fp_load_be32(v),
                                         (unsigned long)fp_load_be32(v + 4));
        return Py_BuildValue("(sy#)", "TFO", v, (Py_ssize_t)n);
    default: return Py_BuildValue("(iy#)", kind, v, (Py_ssize_t)n);
    }
}

static PyObject *tcp_option_tuple(const FpLayer *l, const fp_tcp_option *o)
{
    uint32_t n;
    const uint8_t *v = tcp_opt_value(l, o, &n);
    return tcp_option_obj(o->kind, v, n);
}

/* Option bytes (a built or parsed TCP header's) as the list the view gives; a malformed
 * option ends it, its bytes as (kind, rest). */
PyObject *fp_tcp_options_list(const uint8_t *p, size_t len)
{
    PyObject *list = PyList_New(0);
    size_t i = 0;
    while (list != NULL && i < len) {
        uint8_t kind = p[i];
        PyObject *o;
        if (kind <= 1) {
            o = tcp_option_obj(kind, p + i, 0);
            i++;
        } else if (i + 1 < len && p[i + 1] >= 2 && i + p[i + 1] <= len) {
            o = tcp_option_obj(kind, p + i + 2, p[i + 1] - 2u);
            i += p[i + 1];
        } else {
            o = Py_BuildValue("(iy#)", kind, p + i + 1, (Py_ssize_t)(len - i - 1));
            i = len;
        }
        if (o == NULL || PyList_Append(list, o) < 0) Py_CLEAR(list);
        Py_XDECREF(o);
    }
    return list;
}

static PyObject *tcp_get_options(PyObject *self, void *c)
{
    (void)c;
    const FpLayer *l = LAYER(self);
    tcp_opts t;
    tcp_read_options(l, &t);
    PyObject *list = PyList_New(t.n);
    for (int i = 0; list != NULL && i < t.n; i++) {
        PyObject *o = tcp_option_tuple(l, &t.o[i]);
        if (o == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, o);
    }
    return list;
}

/* The first option of `kind` with exactly `want` value bytes (want < 0: any). */
static const uint8_t *tcp_find_option(const FpLayer *l, uint8_t kind, int want, uint32_t *n)
{
    tcp_opts t;
    tcp_read_options(l, &t);
    for (int i = 0; i < t.n; i++) {
        if (t.o[i].kind != kind) continue;
        const uint8_t *v = tcp_opt_value(l, &t.o[i], n);
        if (want < 0 || *n == (uint32_t)want) return v;
    }
    return NULL;
}

enum { OPT_MSS, OPT_WSCALE, OPT_SACKOK, OPT_SACK, OPT_TS };

static PyObject *tcp_get_opt(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    uint32_t n = 0;
    const uint8_t *v;
    switch ((int)(intptr_t)closure) {
    case OPT_MSS:
        v = tcp_find_option(l, 2, 2, &n);
        if (v == NULL) Py_RETURN_NONE;
        return PyLong_FromLong(fp_load_be16(v));
    case OPT_WSCALE:
        v = tcp_find_option(l, 3, 1, &n);
        if (v == NULL) Py_RETURN_NONE;
        return PyLong_FromLong(v[0]);
    case OPT_SACKOK: return PyBool_FromLong(tcp_find_option(l, 4, -1, &n) != NULL);
    case OPT_TS:
        v = tcp_find_option(l, 8, 8, &n);
        if (v == NULL) Py_RETURN_NONE;
        return Py_BuildValue("(kk)", (unsigned long)fp_load_be32(v), (unsigned long)fp_load_be32(v + 4));
    case OPT_SACK: {
        v = tcp_find_option(l, 5, -1, &n);
        uint32_t blocks = v ? n / 8 : 0;
        PyObject *list = PyList_New(blocks);
        for (uint32_t i = 0; list != NULL && i < blocks; i++) {
            PyObject *t = Py_BuildValue("(kk)", (unsigned long)fp_load_be32(v + 8 * i),
                                        (unsigned long)fp_load_be32(v + 8 * i + 4));
            if (t == NULL) {
                Py_CLEAR(list);
                break;
            }
            PyList_SET_ITEM(list, i, t);
        }
        return list;
    }
    default: Py_RETURN_NONE;
    }
}

static PyGetSetDef tcp_getset[] = {
    {"sport", fp_layer_get_field, NULL, "Source port.", U16(0)},
    {"dport", fp_layer_get_field, NULL, "Destination port.", U16(2)},
    {"seq", fp_layer_get_field, NULL, "Sequence number (raw, not relative).", U32(4)},
    {"ack", fp_layer_get_field, NULL, "Acknowledgment number (raw).", U32(8)},
    {"dataofs", fp_layer_get_field, NULL, "Data offset (header length in 32-bit words).", FLD(12, 1, 4, 4)},
    {"reserved", fp_layer_get_field, NULL, "Reserved bits (3).", FLD(12, 1, 1, 3)},
    {"flags", tcp_get_flags, NULL,
     "Flags as a TCPFlags: int-like (flags & 0x02), str() like 'SA', flags.S ...", NULL},
    {"window", fp_layer_get_field, NULL, "Window size (unscaled).", U16(14)},
    {"chksum", fp_layer_get_field, NULL, "Checksum as on the wire (see checksum_ok()).", U16(16)},
    {"urgptr", fp_layer_get_field, NULL, "Urgent pointer.", U16(18)},
    {"options", tcp_get_options, NULL,
     "Options, Scapy-style: [('MSS', 1460), ('NOP', None), ('WScale', 7), ('SAckOK', b''),\n"
     "('SAck', (l, r, ...)), ('Timestamp', (tsval, tsecr)), ('EOL', None)]; unknown kinds as\n"
     "(kind, bytes). Stops at a malformed option.",
     NULL},
    {"mss", tcp_get_opt, NULL, "MSS option value, None if absent.", (void *)OPT_MSS},
    {"wscale", tcp_get_opt, NULL, "Window scale shift count, None if absent.", (void *)OPT_WSCALE},
    {"sack_permitted", tcp_get_opt, NULL, "True if the SACK-permitted option is present.",
     (void *)OPT_SACKOK},
    {"sack", tcp_get_opt, NULL, "SACK blocks as [(left, right), ...] (empty if none).", (void *)OPT_SACK},
    {"timestamp", tcp_get_opt, NULL, "(tsval, tsecr) of the Timestamps option, None if absent.",
     (void *)OPT_TS},
    {NULL, NULL, NULL, NULL, NULL},
};

LAYER_SPEC(tcp, "TCP", "TCP header (RFC 9293) and options.", tcp_getset, fp_layer_l4_methods);

const fp_layer_def fp_layer_tcp = {
    &tcp_spec, FP_L_TCP,
    FP_NAMES("sport", "dport", "seq", "ack", "dataofs", "reserved", "flags", "window", "chksum", "urgptr",
             "options"),
    FP_NAMES("sport", "dport", "flags", "seq", "ack"), NULL};
