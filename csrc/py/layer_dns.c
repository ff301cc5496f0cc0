/* DNS messages (RFC 1035, csrc/dissect/dns.c): header fields, and records decoded when
 * qd/an/ns/ar are read into the DNSQR/DNSRR struct sequences. */
#include "layer.h"

#include <string.h>

static int dns_msg(const FpLayer *l, const uint8_t **msg, uint32_t *len)
{
    return fp_dns_message(ldata(l), &l->pkt->d, msg, len);
}

/* Header fields (same closure encoding as fp_layer_get_field, relative to the DNS header). */
static PyObject *dns_get_field(PyObject *self, void *closure)
{
    const uint8_t *msg;
    uint32_t len, v;
    if (dns_msg(LAYER(self), &msg, &len) < 0 || field_load(msg, len, (uintptr_t)closure, &v) < 0)
        Py_RETURN_NONE;
    return field_obj((uintptr_t)closure, v);
}

/* A decoded name as str, without the trailing dot of the root (like tshark). */
static PyObject *dns_name_str(const char *name)
{
    size_t n = strnlen(name, FP_DNS_NAME_MAX);
    if (n > 1 && name[n - 1] == '.' && name[n - 2] != '\\') n--;
    return PyUnicode_DecodeLatin1(name, (Py_ssize_t)n, NULL);
}

static PyTypeObject *dns_record_type(PyObject *self, const char *which)
{
    PyObject *t = PyObject_GetAttrString((PyObject *)Py_TYPE(self), which);
    if (t != NULL && !PyType_Check(t)) {
        Py_DECREF(t);
        PyErr_Format(PyExc_TypeError, "DNS.%s is not a type", which);
        return NULL;
    }
    return (PyTypeObject *)t;
}

static PyObject *dns_question(PyTypeObject *tp, const fp_dns_record *rec)
{
    PyObject *o = PyStructSequence_New(tp);
    if (o == NULL) return NULL;
    PyObject *name = dns_name_str(rec->name);
    PyObject *qt = PyLong_FromLong(rec->type);
    PyObject *qc = PyLong_FromLong(rec->rclass);
    if (name == NULL || qt == NULL || qc == NULL) {
        Py_XDECREF(name);
        Py_XDECREF(qt);
        Py_XDECREF(qc);
        Py_DECREF(o);
        return NULL;
    }
    PyStructSequence_SET_ITEM(o, 0, name);
    PyStructSequence_SET_ITEM(o, 1, qt);
    PyStructSequence_SET_ITEM(o, 2, qc);
    return o;
}

static PyObject *dns_rdata(const uint8_t *msg, uint32_t len, const fp_dns_record *rec, PyObject *raw)
{
    char stackbuf[4096];
    size_t cap = (size_t)rec->rdlength * 4 + 2 * FP_DNS_NAME_MAX + 128;
    char *buf = cap <= sizeof stackbuf ? stackbuf : PyMem_Malloc(cap);
    if (buf == NULL) return PyErr_NoMemory();
    int n = fp_dns_rdata_text(msg, len, rec, buf, cap);
    PyObject *r;
    if (n < 0) /* -2 unknown type, -1 malformed: the bytes as they are */
        r = Py_NewRef(raw);
    else
        r = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)((size_t)n < cap ? (size_t)n : cap - 1), "replace");
    if (buf != stackbuf) PyMem_Free(buf);
    return r;
}

static PyObject *dns_resource(PyTypeObject *tp, const uint8_t *msg, uint32_t len,
                              const fp_dns_record *rec)
{
    uint32_t ro = rec->rdata_off, rn = rec->rdlength;
    if (ro > len) ro = len;
    if (rn > len - ro) rn = len - ro;
    PyObject *o = PyStructSequence_New(tp);
    if (o == NULL) return NULL;
    PyObject *raw = PyBytes_FromStringAndSize((const char *)msg + ro, (Py_ssize_t)rn);
    PyObject *items[7] = {
        dns_name_str(rec->name),
        PyLong_FromLong(rec->type),
        PyLong_FromLong(rec->rclass),
        PyLong_FromUnsignedLong(rec->ttl),
        PyLong_FromLong(rec->rdlength),
        raw ? dns_rdata(msg, len, rec, raw) : NULL,
        raw,
    };
    int ok = 1;
    for (int i = 0; i < 7; i++) ok &= items[i] != NULL;
    if (!ok) {
        for (int i = 0; i < 7; i++) Py_XDECREF(items[i]);
        Py_DECREF(o);
        return NULL;
    }
    for (int i = 0; i < 7; i++) PyStructSequence_SET_ITEM(o, i, items[i]);
    return o;
}

/* Walk the message. want: a section to collect into *out (a new list), or -1 to only
 * walk (for `malformed`); -2 to stop at the first question (*out its name or None).
 * *malformed is set when the header is missing or a record could not be decoded.
 * Returns 0, or -1 with a Python error. */
static int dns_walk(PyObject *self, int want, PyObject **out, int *malformed)
{
    const uint8_t *msg;
    uint32_t len;
    fp_dns_iter it;
    *malformed = 0;
    if (want >= 0) {
        *out = PyList_New(0);
        if (*out == NULL) return -1;
    } else if (want == -2) {
        *out = Py_NewRef(Py_None);
    }
    if (dns_msg(LAYER(self), &msg, &len) < 0 || fp_dns_iter_init(&it, msg, len) != 0) {
        *malformed = 1;
        return 0;
    }
    PyTypeObject *tp = NULL;
    if (want >= 0) {
        tp = dns_record_type(self, want == FP_DNS_QD ? "DNSQR" : "DNSRR");
        if (tp == NULL) goto fail;
    }
    fp_dns_record *rec = PyMem_Malloc(sizeof *rec); /* ~1 KB name buffer: keep it off the stack */
    if (rec == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    int r;
    while ((r = fp_dns_iter_next(&it, rec)) == 1) {
        if (want == -2) {
            if (rec->section == FP_DNS_QD) {
                Py_SETREF(*out, dns_name_str(rec->name));
                if (*out == NULL) goto fail_rec;
            }
            break;
        }
        if (want < 0 || (int)rec->section < want) continue;
        if ((int)rec->section > want) break;
        PyObject *o = want == FP_DNS_QD ? dns_question(tp, rec) : dns_resource(tp, msg, len, rec);
        if (o == NULL || PyList_Append(*out, o) < 0) {
            Py_XDECREF(o);
            goto fail_rec;
        }
        Py_DECREF(o);
    }
    if (r < 0 || it.error) *malformed = 1;
    PyMem_Free(rec);
    Py_XDECREF(tp);
    return 0;
fail_rec:
    PyMem_Free(rec);
fail:
    Py_XDECREF(tp);
    if (out != NULL) Py_CLEAR(*out);
    return -1;
}

static PyObject *dns_get_section(PyObject *self, void *closure)
{
    PyObject *list = NULL;
    int malformed;
    if (dns_walk(self, (int)(intptr_t)closure, &list, &malformed) < 0) return NULL;
    return list;
}

static PyObject *dns_get_qname(PyObject *self, void *c)
{
    (void)c;
    PyObject *name = NULL;
    int malformed;
    if (dns_walk(self, -2, &name, &malformed) < 0) return NULL;
    return name;
}

static PyObject *dns_get_malformed(PyObject *self, void *c)
{
    (void)c;
    int malformed;
    if (dns_walk(self, -1, NULL, &malformed) < 0) return NULL;
    return PyBool_FromLong(malformed);
}

static PyGetSetDef dns_getset[] = {
    {"id", dns_get_field, NULL, "Transaction id.", U16(0)},
    {"qr", dns_get_field, NULL, "0 query, 1 response.", FLD(2, 2, 15, 1)},
    {"opcode", dns_get_field, NULL, "Opcode (0 QUERY, 4 NOTIFY, 5 UPDATE ...).", FLD(2, 2, 11, 4)},
    {"aa", dns_get_field, NULL, "Authoritative answer bit.", FLD(2, 2, 10, 1)},
    {"tc", dns_get_field, NULL, "Truncated bit.", FLD(2, 2, 9, 1)},
    {"rd", dns_get_field, NULL, "Recursion desired bit.", FLD(2, 2, 8, 1)},
    {"ra", dns_get_field, NULL, "Recursion available bit.", FLD(2, 2, 7, 1)},
    {"z", dns_get_field, NULL, "Reserved bit.", FLD(2, 2, 6, 1)},
    {"ad", dns_get_field, NULL, "Authentic data bit (DNSSEC).", FLD(2, 2, 5, 1)},
    {"cd", dns_get_field, NULL, "Checking disabled bit (DNSSEC).", FLD(2, 2, 4, 1)},
    {"rcode", dns_get_field, NULL, "Response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN ...).",
     FLD(2, 2, 0, 4)},
    {"qdcount", dns_get_field, NULL, "Question count from the header.", U16(4)},
    {"ancount", dns_get_field, NULL, "Answer count from the header.", U16(6)},
    {"nscount", dns_get_field, NULL, "Authority count from the header.", U16(8)},
    {"arcount", dns_get_field, NULL, "Additional count from the header.", U16(10)},
    {"qd", dns_get_section, NULL,
     "Questions as DNSQR(qname, qtype, qclass); names have no trailing dot (Scapy keeps one).",
     (void *)FP_DNS_QD},
    {"an", dns_get_section, NULL,
     "Answers as DNSRR(rrname, type, rclass, ttl, rdlen, rdata, rdata_raw).", (void *)FP_DNS_AN},
    {"ns", dns_get_section, NULL, "Authority records (DNSRR).", (void *)FP_DNS_NS},
    {"ar", dns_get_section, NULL, "Additional records (DNSRR).", (void *)FP_DNS_AR},
    {"qname", dns_get_qname, NULL,
     "Name of the first question without the trailing dot ('example.com'), None if none.", NULL},
    {"malformed", dns_get_malformed, NULL,
     "True if the records could not all be decoded (the lists hold what came before).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyStructSequence_Field dnsqr_fields[] = {
    {"qname", "Queried name, without the trailing dot (Scapy keeps it: b'example.com.')."},
    {"qtype", "Query type (1 A, 28 AAAA, 5 CNAME, 15 MX, 16 TXT, 255 ANY ...)."},
    {"qclass", "Query class (1 IN)."},
    {NULL, NULL},
};

static PyStructSequence_Desc dnsqr_desc = {
    "fastpkt.DNSQR",
    "A DNS question: (qname, qtype, qclass). qname has no trailing dot.",
    dnsqr_fields,
    3,
};

static PyStructSequence_Field dnsrr_fields[] = {
    {"rrname", "Owner name, without the trailing dot."},
    {"type", "Record type (1 A, 28 AAAA, 5 CNAME ...)."},
    {"rclass", "Record class (1 IN; EDNS OPT records carry the UDP size here)."},
    {"ttl", "Time to live in seconds."},
    {"rdlen", "RDATA length."},
    {"rdata", "RDATA as text for A/AAAA/CNAME/NS/PTR/MX/TXT/SOA/SRV, raw bytes otherwise."},
    {"rdata_raw", "RDATA bytes as on the wire."},
    {NULL, NULL},
};

static PyStructSequence_Desc dnsrr_desc = {
    "fastpkt.DNSRR",
    "A DNS resource record: (rrname, type, rclass, ttl, rdlen, rdata, rdata_raw).",
    dnsrr_fields,
    7,
};

/* Records of one section of a DNS message as DNSQR/DNSRR (building: DNS(raw)). */
PyObject *fp_dns_records(fp_state *st, const uint8_t *msg, uint32_t len, int section)
{
    fp_dns_iter it;
    PyObject *out = PyList_New(0);
    if (out == NULL || fp_dns_iter_init(&it, msg, len) != 0) return out;
    fp_dns_record *rec = PyMem_Malloc(sizeof *rec);
    if (rec == NULL) {
        Py_DECREF(out);
        return PyErr_NoMemory();
    }
    while (fp_dns_iter_next(&it, rec) == 1) {
        if ((int)rec->section < section) continue;
        if ((int)rec->section > section) break;
        PyObject *o = section == FP_DNS_QD ? dns_question(st->DNSQR_Type, rec)
                                           : dns_resource(st->DNSRR_Type, msg, len, rec);
        if (o == NULL || PyList_Append(out, o) < 0) {
            Py_XDECREF(o);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(o);
    }
    PyMem_Free(rec);
    return out;
}

/* Type and class names Scapy accepts in DNSQR/DNSRR. */
static const struct {
    const char *name;
    uint16_t value;
} dns_type_names[] = {
    {"A", 1},     {"NS", 2},     {"CNAME", 5}, {"SOA", 6},    {"PTR", 12}, {"HINFO", 13},
    {"MX", 15},   {"TXT", 16},   {"AAAA", 28}, {"SRV", 33},   {"NAPTR", 35}, {"DNAME", 39},
    {"OPT", 41},  {"DS", 43},    {"RRSIG", 46}, {"NSEC", 47}, {"DNSKEY", 48}, {"HTTPS", 65},
    {"SVCB", 64}, {"CAA", 257},  {"ANY", 255}, {"ALL", 255},  {"IN", 1},    {"CH", 3},
};

int fp_dns_type_value(PyObject *v, long *out)
{
    for (size_t i = 0; i < sizeof dns_type_names / sizeof dns_type_names[0]; i++)
        if (PyUnicode_CompareWithASCIIString(v, dns_type_names[i].name) == 0) {
            *out = dns_type_names[i].value;
            return 0;
        }
    PyErr_Format(PyExc_ValueError, "unknown DNS type or class name %R", v);
    return -1;
}

static newfunc structseq_new;

/* DNSQR(qname=..., qtype='A') and DNSRR(rrname=..., type=..., rdata=...) as in Scapy, with
 * Scapy's defaults; a single sequence argument still makes a record from its items. */
static PyObject *dns_record_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) == 1 && kwds == NULL) return structseq_new(tp, args, kwds);
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    PyObject *fields = PyObject_GetAttrString((PyObject *)tp, "_fields");
    if (fields == NULL) return NULL;
    Py_ssize_t nf = PyTuple_GET_SIZE(fields);
    int is_qr = nf == 3;
    PyObject *o = PyStructSequence_New(tp);
    if (o == NULL) {
        Py_DECREF(fields);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nf; i++) {
        PyObject *v = i < n ? PyTuple_GET_ITEM(args, i) : NULL;
        PyObject *kv = kwds ? PyDict_GetItemWithError(kwds, PyTuple_GET_ITEM(fields, i)) : NULL;
        if (kv == NULL && PyErr_Occurred()) goto fail;
        if (kv) v = kv;
        PyObject *val;
        if (v != NULL) val = Py_NewRef(v);
        else if (i == 0) val = PyUnicode_FromString(is_qr ? "www.example.com" : ".");
        else if (i == 1 || i == 2) val = PyLong_FromLong(1);
        else if (i == 3) val = PyLong_FromLong(0);
        else val = Py_NewRef(Py_None);
        if (val == NULL) goto fail;
        PyStructSequence_SET_ITEM(o, i, val);
    }
    if (n > nf || (kwds && PyDict_GET_SIZE(kwds) + (n < nf ? n : nf) > nf)) {
        PyErr_Format(PyExc_TypeError, "%s() takes the fields %R", tp->tp_name, fields);
        goto fail;
    }
    if (kwds) { /* names that are not fields */
        PyObject *k, *val;
        Py_ssize_t pos = 0;
        while (PyDict_Next(kwds, &pos, &k, &val)) {
            int found = PySequence_Contains(fields, k);
            if (found <= 0) {
                if (found == 0) PyErr_Format(PyExc_TypeError, "%s() has no field %R", tp->tp_name, k);
                goto fail;
            }
        }
    }
    Py_DECREF(fields);
    return o;
fail:
    Py_DECREF(fields);
    Py_DECREF(o);
    return NULL;
}

static int dns_record_type_setup(PyTypeObject *tp)
{
    structseq_new = tp->tp_new;
    tp->tp_new = dns_record_new;
    PyObject *fields = PyObject_GetAttrString((PyObject *)tp, "__match_args__");
    if (fields == NULL) return -1;
    int r = PyDict_SetItemString(tp->tp_dict, "_fields", fields);
    Py_DECREF(fields);
    PyType_Modified(tp);
    return r;
}

/* DNS.DNSQR and DNS.DNSRR, also fastpkt.DNSQR/DNSRR. */
static int dns_setup(PyObject *m, PyTypeObject *tp)
{
    fp_state *st = fp_state_from_module(m);
    PyTypeObject *qr = PyStructSequence_NewType(&dnsqr_desc);
    PyTypeObject *rr = qr ? PyStructSequence_NewType(&dnsrr_desc) : NULL;
    int bad = rr == NULL || fp_layer_set_class_attr(tp, "DNSQR", (PyObject *)qr) < 0 ||
              fp_layer_set_class_attr(tp, "DNSRR", (PyObject *)rr) < 0 || PyModule_AddType(m, qr) < 0 ||
              PyModule_AddType(m, rr) < 0 || dns_record_type_setup(qr) < 0 ||
              dns_record_type_setup(rr) < 0;
    if (!bad) {
        Py_XSETREF(st->DNSQR_Type, (PyTypeObject *)Py_NewRef(qr));
        Py_XSETREF(st->DNSRR_Type, (PyTypeObject *)Py_NewRef(rr));
    }
    Py_XDECREF(qr);
    Py_XDECREF(rr);
    return bad ? -1 : 0;
}

LAYER_SPEC(dns, "DNS",
           "DNS message (RFC 1035), over UDP or TCP. Records are decoded when qd/an/ns/ar are\n"
           "read; names come without the trailing dot (Scapy keeps it).",
           dns_getset, fp_layer_no_methods);

const fp_layer_def fp_layer_dns = {
    &dns_spec, FP_L_DNS,
    FP_NAMES("id", "qr", "opcode", "aa", "tc", "rd", "ra", "z", "ad", "cd", "rcode", "qdcount", "ancount",
             "nscount", "arcount", "qd", "an", "ns", "ar"),
    FP_NAMES("id", "qr", "opcode", "rcode", "qdcount", "ancount", "qname"), dns_setup};
