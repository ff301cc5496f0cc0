/* PPP's control protocols as views: pkt.lcp, pkt.ipcp, pkt.ipv6cp, pkt.ccp (RFC 1661 section
 * 5, RFC 1332, 1877, 5072, 1962).
 *
 * A view holds its packet and where the control packet lies in it (the first PPP frame
 * carrying that protocol, fp_ppp_control_find); every field is read from the packet's bytes
 * when asked, the options only when `options` is read. The walk is the fields' (tunnel.c's
 * cp_words): a packet whose length passes its frame or is under 4 has its header alone; an
 * option under 2 bytes or past the packet ends the options. Values are decoded where the
 * fields decode them (tshark's lcp.opt.mru...), and `valid` says whether
 * ppp_control_malformed's rules accept the option. Not Layer subclasses: the control packet
 * is no layer of the dissection (no span, nothing the builder edits). */
#include "pyfp.h"

#include <stdio.h>

typedef struct {
    PyObject_HEAD
    FpPacket *pkt;
    uint32_t at, end; /* the control packet's code byte; its PPP frame's end */
    uint8_t cp;       /* FP_PPP_LCP... */
} FpPPPControl;

#define CPV(o) ((FpPPPControl *)(o))

static const char *const cp_names[] = {NULL, "LCP", "IPCP", "IPV6CP", "CCP"};
static const uint16_t cp_protocols[] = {0, 0xc021, 0x8021, 0x8057, 0x80fd};

/* How an option's value is decoded: at its third byte, unless noted. */
enum { OV_NONE, OV_U8, OV_U16, OV_U24, OV_U32, OV_IPV4, OV_BYTES, OV_TRUE };

typedef struct {
    uint8_t cp, type, kind;
    uint8_t hex;       /* repr prints it in hex (protocol numbers, bit maps, magic numbers) */
    const char *name;  /* short name: the tshark field's last part, or the RFC's where it has none */
    const char *field; /* tshark's field of the value, or NULL */
} cp_option_def;

static const cp_option_def option_defs[] = {
    {FP_PPP_LCP, 0, OV_U24, 1, "oui", "lcp.opt.oui"},
    {FP_PPP_LCP, 1, OV_U16, 0, "mru", "lcp.opt.mru"},
    {FP_PPP_LCP, 2, OV_U32, 1, "asyncmap", "lcp.opt.asyncmap"},
    {FP_PPP_LCP, 3, OV_U16, 1, "auth_protocol", "lcp.opt.auth_protocol"},
    {FP_PPP_LCP, 4, OV_U16, 1, "quality_protocol", "lcp.opt.quality_protocol"},
    {FP_PPP_LCP, 5, OV_U32, 1, "magic_number", "lcp.opt.magic_number"},
    {FP_PPP_LCP, 7, OV_TRUE, 0, "pfc", NULL},
    {FP_PPP_LCP, 8, OV_TRUE, 0, "acfc", NULL},
    {FP_PPP_LCP, 9, OV_U8, 0, "fcs_alternatives", "lcp.opt.fcs_alternatives"},
    {FP_PPP_LCP, 13, OV_U8, 0, "operation", "lcp.opt.operation"},
    {FP_PPP_LCP, 17, OV_U16, 0, "mrru", "lcp.opt.mrru"},
    {FP_PPP_LCP, 18, OV_TRUE, 0, "short_sequence", NULL},
    {FP_PPP_LCP, 19, OV_U8, 0, "ep_disc_class", "lcp.opt.ep_disc_class"},
    {FP_PPP_IPCP, 2, OV_U16, 1, "compress_proto", "ipcp.opt.compress_proto"},
    {FP_PPP_IPCP, 3, OV_IPV4, 0, "ip_address", "ipcp.opt.ip_address"},
    {FP_PPP_IPCP, 4, OV_IPV4, 0, "mobilenodehomeaddress", "ipcp.opt.mobilenodehomeaddress"},
    {FP_PPP_IPCP, 129, OV_IPV4, 0, "pri_dns_address", "ipcp.opt.pri_dns_address"},
    {FP_PPP_IPCP, 130, OV_IPV4, 0, "pri_nbns_address", "ipcp.opt.pri_nbns_address"},
    {FP_PPP_IPCP, 131, OV_IPV4, 0, "sec_dns_address", "ipcp.opt.sec_dns_address"},
    {FP_PPP_IPCP, 132, OV_IPV4, 0, "sec_nbns_address", "ipcp.opt.sec_nbns_address"},
    {FP_PPP_IPV6CP, 1, OV_BYTES, 0, "interface_identifier", "ipv6cp.interface_identifier"},
    {FP_PPP_IPV6CP, 2, OV_U16, 1, "compress_proto", NULL},
    {FP_PPP_CCP, 0, OV_U24, 1, "oui", "ccp.opt.oui"},
    {FP_PPP_CCP, 18, OV_U32, 1, "supported_bits", "ccp.opt.supported_bits"},
};

static const cp_option_def *option_def(int cp, uint8_t type)
{
    for (size_t i = 0; i < sizeof option_defs / sizeof option_defs[0]; i++)
        if (option_defs[i].cp == cp && option_defs[i].type == type) return &option_defs[i];
    return NULL;
}

static PyStructSequence_Field option_fields[] = {
    {"type", "Option type."},
    {"length", "Its length byte (type and length bytes included)."},
    {"value", "The decoded value (int, address text, bytes, True for a flag option), or None when its\n"
              "type has none here or its length is not what the type allows."},
    {"data", "The bytes after the type and length, within the option."},
    {"name", "Short name: tshark's field name without the protocol ('mru', 'auth_protocol'...), or None."},
    {"field", "tshark's field of the value ('lcp.opt.mru'), or None."},
    {"valid", "False when ppp_control_malformed's rules reject the option (tshark's warning or\n"
              "malformed packet)."},
    {"algorithm", "CHAP's algorithm of an LCP Authentication-Protocol option (lcp.opt.algorithm), or None."},
    {NULL, NULL},
};

static PyStructSequence_Desc option_desc = {
    "fastpkt.PPPOption",
    "One option of a PPP control packet's Configure-Request/Ack/Nak/Reject (pkt.lcp.options).",
    option_fields,
    8,
};

/* The bytes of the view's control packet: its header, and up to its length when that fits the
 * frame (`whole`), else to the frame's end. */
static const uint8_t *cp_bytes(const FpPPPControl *v, uint32_t *len, int *whole)
{
    const uint8_t *p = v->pkt->data + v->at;
    uint32_t avail = v->end - v->at, l = fp_load_be16(p + 2);
    *whole = l >= 4 && l <= avail;
    *len = *whole ? l : avail;
    return p;
}

static PyObject *option_value(const FpPPPControl *v, const cp_option_def *def, const uint8_t *opt, uint8_t olen,
                              int usable)
{
    if (def == NULL || !usable) Py_RETURN_NONE;
    const uint8_t *p = opt + 2;
    uint32_t n = olen - 2u;
    switch (def->kind) {
    case OV_U8: if (n >= 1) return PyLong_FromUnsignedLong(p[0]); break;
    case OV_U16: if (n >= 2) return PyLong_FromUnsignedLong(fp_load_be16(p)); break;
    case OV_U24: if (n >= 3) return PyLong_FromUnsignedLong((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]); break;
    case OV_U32: if (n >= 4) return PyLong_FromUnsignedLong(fp_load_be32(p)); break;
    case OV_IPV4: if (n >= 4) return fp_hot_addr_str(v->pkt->st, p, 4); break;
    case OV_BYTES: return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    case OV_TRUE: Py_RETURN_TRUE;
    default: break;
    }
    Py_RETURN_NONE;
}

static PyObject *make_option(const FpPPPControl *v, PyTypeObject *tp, const uint8_t *opt, uint8_t olen)
{
    const cp_option_def *def = option_def(v->cp, opt[0]);
    int fits = fp_ppp_option_fits(v->cp, opt[0], olen), lies = fp_ppp_option_lies(v->cp, opt, olen);
    /* values where the fields give them: a type with a rule when it fits, one without when valid */
    int usable = fits == 1 || (fits < 0 && !lies);
    PyObject *o = PyStructSequence_New(tp);
    if (o == NULL) return NULL;
    int chap = v->cp == FP_PPP_LCP && opt[0] == 3 && usable && olen >= 5 && fp_load_be16(opt + 2) == 0xc223;
    PyObject *items[8] = {
        PyLong_FromUnsignedLong(opt[0]),
        PyLong_FromUnsignedLong(olen),
        option_value(v, def, opt, olen, usable),
        PyBytes_FromStringAndSize((const char *)opt + 2, olen - 2),
        def ? PyUnicode_FromString(def->name) : Py_NewRef(Py_None),
        def && def->field ? PyUnicode_FromString(def->field) : Py_NewRef(Py_None),
        PyBool_FromLong(!lies),
        chap ? PyLong_FromUnsignedLong(opt[4]) : Py_NewRef(Py_None),
    };
    int bad = 0;
    for (int i = 0; i < 8; i++) {
        if (items[i] == NULL) bad = 1;
        PyStructSequence_SetItem(o, i, items[i]); /* steals; NULL leaves the slot empty */
    }
    if (bad) Py_CLEAR(o);
    return o;
}

static PyObject *get_options(PyObject *self, void *c)
{
    (void)c;
    const FpPPPControl *v = CPV(self);
    uint32_t len;
    int whole;
    const uint8_t *p = cp_bytes(v, &len, &whole);
    PyObject *list = PyList_New(0);
    if (list == NULL) return NULL;
    if (whole && p[0] >= 1 && p[0] <= 4) { /* Configure-Request, -Ack, -Nak, -Reject */
        PyTypeObject *tp = v->pkt->st->PPPOption_Type;
        for (uint32_t o = 4; len - o >= 2;) {
            uint8_t olen = p[o + 1];
            if (olen < 2 || olen > len - o) break;
            if (fp_list_append_new(list, make_option(v, tp, p + o, olen)) < 0) {
                Py_DECREF(list);
                return NULL;
            }
            o += olen;
        }
    }
    PyObject *t = PyList_AsTuple(list);
    Py_DECREF(list);
    return t;
}

static PyObject *get_name(PyObject *self, void *c)
{
    (void)c;
    return PyUnicode_FromString(cp_names[CPV(self)->cp]);
}

static PyObject *get_protocol(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(cp_protocols[CPV(self)->cp]);
}

/* closure: 0 code, 1 identifier, 2 length (the header is captured: the view exists) */
static PyObject *get_header(PyObject *self, void *c)
{
    const uint8_t *p = CPV(self)->pkt->data + CPV(self)->at;
    switch ((intptr_t)c) {
    case 0: return PyLong_FromUnsignedLong(p[0]);
    case 1: return PyLong_FromUnsignedLong(p[1]);
    default: return PyLong_FromUnsignedLong(fp_load_be16(p + 2));
    }
}

static PyObject *get_offset(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(CPV(self)->at);
}

static PyObject *get_header_len(PyObject *self, void *c)
{
    (void)self;
    (void)c;
    return PyLong_FromLong(4);
}

/* LCP's magic number (Echo-Request/Reply, Discard-Request) and a Protocol-Reject's protocol,
 * read as lcp.magic_number and lcp.rej_proto are: within a length that fits the frame.
 * closure: 0 magic number, 1 rejected protocol. */
static PyObject *get_lcp_word(PyObject *self, void *c)
{
    const FpPPPControl *v = CPV(self);
    uint32_t len;
    int whole;
    const uint8_t *p = cp_bytes(v, &len, &whole);
    if (v->cp != FP_PPP_LCP || !whole) Py_RETURN_NONE;
    if (c == NULL && p[0] >= 9 && p[0] <= 13 && len >= 8) return PyLong_FromUnsignedLong(fp_load_be32(p + 4));
    if (c != NULL && p[0] == 8 && len >= 6) return PyLong_FromUnsignedLong(fp_load_be16(p + 4));
    Py_RETURN_NONE;
}

/* closure NULL: the header and what follows within the packet; else what follows alone. */
static PyObject *get_bytes(PyObject *self, void *c)
{
    uint32_t len;
    int whole;
    const uint8_t *p = cp_bytes(CPV(self), &len, &whole);
    uint32_t skip = c ? 4 : 0;
    return PyBytes_FromStringAndSize((const char *)p + skip, (Py_ssize_t)(len - skip));
}

static PyObject *get_malformed(PyObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong((CPV(self)->pkt->d.anomalies & FP_ANOM_PPP_CONTROL) != 0);
}

static PyObject *get_packet(PyObject *self, void *c)
{
    (void)c;
    return Py_NewRef((PyObject *)CPV(self)->pkt);
}

static PyObject *get_fields(PyObject *self, void *c)
{
    (void)self;
    (void)c;
    return Py_BuildValue("(sssssss)", "code", "identifier", "length", "options", "magic_number",
                         "rejected_protocol", "payload");
}

static PyGetSetDef control_getset[] = {
    {"name", get_name, NULL, "'LCP', 'IPCP', 'IPV6CP' or 'CCP' (as pkt.layers names it).", NULL},
    {"protocol", get_protocol, NULL, "PPP protocol number (0xc021 LCP, 0x8021 IPCP, 0x8057 IPV6CP, 0x80fd CCP).", NULL},
    {"code", get_header, NULL, "Code (ppp.code): 1 Configure-Request ... 9 Echo-Request ...", (void *)0},
    {"identifier", get_header, NULL, "Identifier (ppp.identifier).", (void *)1},
    {"length", get_header, NULL, "Length field (ppp.length), as captured: it may lie.", (void *)2},
    {"options", get_options, NULL,
     "The options of a Configure-Request/Ack/Nak/Reject, as PPPOption tuples in order; () for other\n"
     "codes and for a packet whose length passes its frame or is under 4. An option under 2 bytes\n"
     "or past the packet ends them.",
     NULL},
    {"magic_number", get_lcp_word, NULL, "LCP magic number of Echo-Request/Reply, Discard-Request, Identification, Time-Remaining, or None.", NULL},
    {"rejected_protocol", get_lcp_word, NULL, "LCP Protocol-Reject's rejected protocol, or None.", (void *)1},
    {"payload", get_bytes, NULL, "The bytes after the 4-byte header, within the length when it fits the frame.",
     (void *)1},
    {"raw", get_bytes, NULL, "The header and payload bytes.", NULL},
    {"offset", get_offset, NULL, "Offset of the code byte within the packet bytes.", NULL},
    {"header_len", get_header_len, NULL, "4: code, identifier, length.", NULL},
    {"malformed", get_malformed, NULL, "The packet has the anomaly ppp_control_malformed.", NULL},
    {"fields", get_fields, NULL, "Field names shown by fields_dict() and the notebook view.", NULL},
    {"_packet", get_packet, NULL, "The Packet this view reads.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyObject *control_fields_dict(PyObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *fields = get_fields(self, NULL);
    if (fields == NULL) return NULL;
    PyObject *d = PyDict_New();
    for (Py_ssize_t i = 0; d != NULL && i < PyTuple_GET_SIZE(fields); i++) {
        PyObject *k = PyTuple_GET_ITEM(fields, i);
        PyObject *val = PyObject_GetAttr(self, k);
        if (val == NULL || PyDict_SetItem(d, k, val) < 0) Py_CLEAR(d);
        Py_XDECREF(val);
    }
    Py_DECREF(fields);
    return d;
}

static PyObject *control_bytes(PyObject *self, PyObject *unused)
{
    (void)unused;
    return get_bytes(self, NULL);
}

static PyMethodDef control_methods[] = {
    {"fields_dict", control_fields_dict, METH_NOARGS, "A dict of `fields` and their values."},
    {"__bytes__", control_bytes, METH_NOARGS, "The header and payload bytes."},
    FP_VIEW_METHOD,
    {NULL, NULL, 0, NULL},
};

/* <LCP  code=1 identifier=2 length=18 options=[mru=1492 magic_number=0x11223344] |> */
static PyObject *control_repr(PyObject *self)
{
    const FpPPPControl *v = CPV(self);
    const uint8_t *p = v->pkt->data + v->at;
    PyObject *opts = get_options(self, NULL);
    if (opts == NULL) return NULL;
    PyObject *parts = PyList_New(0);
    for (Py_ssize_t i = 0; parts != NULL && i < PyTuple_GET_SIZE(opts); i++) {
        PyObject *o = PyTuple_GET_ITEM(opts, i);
        PyObject *name = PyStructSequence_GET_ITEM(o, 4), *value = PyStructSequence_GET_ITEM(o, 2);
        const cp_option_def *def = option_def(v->cp, (uint8_t)PyLong_AsLong(PyStructSequence_GET_ITEM(o, 0)));
        PyObject *item;
        if (name != Py_None && value != Py_None && def->hex && PyLong_CheckExact(value))
            item = PyUnicode_FromFormat("%U=0x%lx", name, PyLong_AsUnsignedLong(value));
        else if (name != Py_None && value != Py_None)
            item = PyUnicode_FromFormat("%U=%R", name, value);
        else
            item = PyUnicode_FromFormat("type%S(%S)", PyStructSequence_GET_ITEM(o, 0), PyStructSequence_GET_ITEM(o, 1));
        if (fp_list_append_new(parts, item) < 0) Py_CLEAR(parts);
    }
    Py_DECREF(opts);
    if (parts == NULL) return NULL;
    PyObject *body = fp_join_str(parts, " ");
    if (body == NULL) return NULL;
    PyObject *magic = get_lcp_word(self, NULL), *rejected = magic ? get_lcp_word(self, (void *)1) : NULL;
    PyObject *r = NULL;
    if (rejected != NULL) {
        char extra[48] = "";
        if (magic != Py_None) snprintf(extra, sizeof extra, " magic_number=0x%08lx", PyLong_AsUnsignedLong(magic));
        else if (rejected != Py_None) snprintf(extra, sizeof extra, " rejected_protocol=0x%04lx", PyLong_AsUnsignedLong(rejected));
        r = PyUnicode_FromFormat("<%s  code=%u identifier=%u length=%u%s options=[%U] |>", cp_names[v->cp],
                                 (unsigned)p[0], (unsigned)p[1], (unsigned)fp_load_be16(p + 2), extra, body);
    }
    Py_XDECREF(magic);
    Py_XDECREF(rejected);
    Py_DECREF(body);
    return r;
}

static void control_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_DECREF(CPV(self)->pkt);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot control_slots[] = {
    {Py_tp_doc, "A PPP control packet (LCP, IPCP, IPV6CP, CCP) of a Packet: a view over its bytes, read\n"
                "when asked (pkt.lcp, pkt.ipcp, pkt.ipv6cp, pkt.ccp)."},
    {Py_tp_dealloc, control_dealloc},
    {Py_tp_repr, control_repr},
    {Py_tp_getset, control_getset},
    {Py_tp_methods, control_methods},
    {0, NULL},
};

static PyType_Spec control_spec = {
    .name = "fastpkt.PPPControl",
    .basicsize = sizeof(FpPPPControl),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = control_slots,
};

/* One class per protocol, for isinstance() and pkt.layers' names; CPython 3.11 keeps a spec's
 * name as the class's tp_name, so each has a static spec. */
static PyType_Slot protocol_slots[] = {{0, NULL}};
#define PROTOCOL_SPEC(pyname)                                                                            \
    {.name = "fastpkt." pyname, .basicsize = sizeof(FpPPPControl),                                       \
     .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,         \
     .slots = protocol_slots}
static PyType_Spec protocol_specs[] = {PROTOCOL_SPEC("LCP"), PROTOCOL_SPEC("IPCP"), PROTOCOL_SPEC("IPV6CP"),
                                      PROTOCOL_SPEC("CCP")};

PyObject *fp_ppp_control_view(FpPacket *pkt, int cp)
{
    uint32_t at, end;
    if ((pkt->d.link_ppp == 0 && pkt->d.tunnel_count == 0) ||
        !fp_ppp_control_find(&pkt->d, pkt->data, pkt->caplen, cp, &at, &end))
        Py_RETURN_NONE;
    PyTypeObject *tp = pkt->st->PPPControl_Types[cp];
    FpPPPControl *v = PyObject_New(FpPPPControl, tp);
    if (v == NULL) return NULL;
    v->pkt = (FpPacket *)Py_NewRef((PyObject *)pkt);
    v->at = at;
    v->end = end;
    v->cp = (uint8_t)cp;
    return (PyObject *)v;
}

int fp_ppp_views_register(PyObject *m, fp_state *st)
{
    PyTypeObject *opt = PyStructSequence_NewType(&option_desc);
    if (opt == NULL || PyModule_AddType(m, opt) < 0) {
        Py_XDECREF(opt);
        return -1;
    }
    Py_XSETREF(st->PPPOption_Type, opt);
    PyObject *base = PyType_FromModuleAndSpec(m, &control_spec, NULL);
    if (base == NULL || PyModule_AddType(m, (PyTypeObject *)base) < 0) {
        Py_XDECREF(base);
        return -1;
    }
    Py_XSETREF(st->PPPControl_Types[0], (PyTypeObject *)base);
    for (int cp = FP_PPP_LCP; cp <= FP_PPP_CCP; cp++) {
        PyObject *tp = PyType_FromModuleAndSpec(m, &protocol_specs[cp - 1], base);
        if (tp == NULL || PyModule_AddType(m, (PyTypeObject *)tp) < 0) {
            Py_XDECREF(tp);
            return -1;
        }
        Py_XSETREF(st->PPPControl_Types[cp], (PyTypeObject *)tp);
    }
    return 0;
}
