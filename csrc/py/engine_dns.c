/* DnsTransaction records: one closed transaction (csrc/stream/dns_tracker.c, found in the
 * engine's GIL-free pass) as a struct sequence whose fields are the table's columns, named
 * after Zeek's dns.log. Answers are read from the kept response message here. */
#include "pyfp.h"
#include "engine.h"

#include <stdio.h>

#include "../stream/dns_tracker.h"

#define DNS_FIELDS(X)                                                                            \
    X(ts, "time of the query (of the response when no query was seen), float seconds")         \
    X(flow_id, "the connection's flow_id (fastpkt.flows' id for the same flow)")               \
    X(orig_h, "the query's sender") X(orig_p, "") X(resp_h, "the query's receiver") X(resp_p, "") \
    X(ip_version, "4 or 6") X(proto, "'udp' or 'tcp'")                                          \
    X(service, "'dns', 'mdns' (port 5353) or 'llmnr' (port 5355)")                              \
    X(trans_id, "DNS transaction id") X(rtt, "seconds from the query to its first response, or None") \
    X(query, "the first question's name, or None") X(qclass, "") X(qclass_name, "")            \
    X(qtype, "") X(qtype_name, "") X(rcode, "the response's, or None") X(rcode_name, "")       \
    X(AA, "authoritative answer") X(TC, "truncated") X(RD, "recursion desired")               \
    X(RA, "recursion available") X(Z, "the 3 bits after RA (Z, AD, CD)")                       \
    X(opcode, "") X(opcode_name, "")                                                           \
    X(answers, "the answer section's data as text (dig's form; RFC 3597 \\\\# form when unknown)") \
    X(TTLs, "their TTLs, seconds") X(rejected, "a response without any record (Zeek's rejected)") \
    X(queries, "copies of the query (retransmissions counted)")                               \
    X(responses, "responses seen with this id") X(answered, "a response was seen")            \
    X(anomalies, "names of what was malformed or cut")

#define F_ENUM(name, doc) DF_##name,
enum { DNS_FIELDS(F_ENUM) NUM_DNS_FIELDS };

typedef struct {
    uint16_t code;
    const char *name;
} code_name;

static const code_name qtypes[] = {
    {1, "A"}, {2, "NS"}, {3, "MD"}, {4, "MF"}, {5, "CNAME"}, {6, "SOA"}, {7, "MB"}, {8, "MG"}, {9, "MR"},
    {10, "NULL"}, {11, "WKS"}, {12, "PTR"}, {13, "HINFO"}, {14, "MINFO"}, {15, "MX"}, {16, "TXT"}, {17, "RP"},
    {18, "AFSDB"}, {24, "SIG"}, {25, "KEY"}, {28, "AAAA"}, {29, "LOC"}, {33, "SRV"}, {35, "NAPTR"}, {36, "KX"},
    {37, "CERT"}, {38, "A6"}, {39, "DNAME"}, {41, "OPT"}, {42, "APL"}, {43, "DS"}, {44, "SSHFP"},
    {45, "IPSECKEY"}, {46, "RRSIG"}, {47, "NSEC"}, {48, "DNSKEY"}, {49, "DHCID"}, {50, "NSEC3"},
    {51, "NSEC3PARAM"}, {52, "TLSA"}, {53, "SMIMEA"}, {55, "HIP"}, {59, "CDS"}, {60, "CDNSKEY"},
    {61, "OPENPGPKEY"}, {62, "CSYNC"}, {63, "ZONEMD"}, {64, "SVCB"}, {65, "HTTPS"}, {99, "SPF"},
    {249, "TKEY"}, {250, "TSIG"}, {251, "IXFR"}, {252, "AXFR"}, {253, "MAILB"}, {254, "MAILA"}, {255, "*"},
    {256, "URI"}, {257, "CAA"},
};
/* Zeek's names (base/protocols/dns/consts.zeek), so rows compare with its dns.log */
static const code_name qclasses[] = {{1, "C_INTERNET"}, {2, "C_CSNET"}, {3, "C_CHAOS"}, {4, "C_HESIOD"},
                                     {254, "C_NONE"}, {255, "C_ANY"}};
static const code_name rcodes[] = {{0, "NOERROR"}, {1, "FORMERR"}, {2, "SERVFAIL"}, {3, "NXDOMAIN"},
                                   {4, "NOTIMP"}, {5, "REFUSED"}, {6, "YXDOMAIN"}, {7, "YXRRSET"},
                                   {8, "NXRRSET"}, {9, "NOTAUTH"}, {10, "NOTZONE"}};
static const code_name opcodes[] = {{0, "query"}, {1, "iquery"}, {2, "status"}, {4, "notify"}, {5, "update"}};

/* The table's name for a code, else `fallback` followed by the number (Zeek's "query-N"). */
static PyObject *code_text(const code_name *t, size_t n, unsigned code, const char *fallback)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].code == code) return PyUnicode_FromString(t[i].name);
    return PyUnicode_FromFormat("%s%u", fallback, code);
}
#define CODE_TEXT(table, code, fallback) code_text((table), sizeof(table) / sizeof((table)[0]), (code), (fallback))

static PyObject *endpoint_ip(const fp_flow_key *k, int b)
{
    const uint8_t *a = b ? k->b : k->a;
    return k->ip_version == 4 ? fp_ip4_str(a) : fp_ip6_str(a);
}

static PyObject *none(void) { return Py_NewRef(Py_None); }

/* Record data the text form could not show: RFC 3597's generic "\# length hex". */
static size_t generic_rdata(const uint8_t *p, uint16_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = (size_t)sprintf(out, "\\# %u%s", n, n ? " " : "");
    for (uint16_t i = 0; i < n; i++) {
        out[k++] = hex[p[i] >> 4];
        out[k++] = hex[p[i] & 15];
    }
    out[k] = 0;
    return k;
}

/* The answer section: (answers, TTLs) as tuples; the response's other sections are skipped. */
static int answers(const fp_dns_txn *x, PyObject **texts, PyObject **ttls)
{
    PyObject *a = PyList_New(0), *t = PyList_New(0);
    fp_dns_iter it;
    fp_dns_record *rec = PyMem_Malloc(sizeof *rec);
    int ok = a && t && rec;
    if (ok && x->resp && fp_dns_iter_init(&it, x->resp, x->resp_len) == 0) {
        while (ok && fp_dns_iter_next(&it, rec) == 1 && rec->section <= FP_DNS_AN) {
            if (rec->section != FP_DNS_AN) continue;
            /* escapes take 4 bytes per rdata byte; names compressed into rdata expand to their
             * presentation length; the generic form takes 2 per byte */
            size_t cap = 4 * (size_t)rec->rdlength + 2 * FP_DNS_NAME_MAX + 64;
            char *buf = PyMem_Malloc(cap);
            if (buf == NULL) {
                ok = 0;
                break;
            }
            int n = fp_dns_rdata_text(x->resp, x->resp_len, rec, buf, cap);
            if (n < 0) n = (int)generic_rdata(x->resp + rec->rdata_off, rec->rdlength, buf);
            PyObject *s = PyUnicode_DecodeUTF8(buf, n, "backslashreplace");
            PyObject *ttl = PyFloat_FromDouble((double)rec->ttl);
            PyMem_Free(buf);
            if (s == NULL || ttl == NULL || PyList_Append(a, s) < 0 || PyList_Append(t, ttl) < 0) ok = 0;
            Py_XDECREF(s);
            Py_XDECREF(ttl);
        }
    }
    PyMem_Free(rec);
    *texts = ok ? PyList_AsTuple(a) : NULL;
    *ttls = ok ? PyList_AsTuple(t) : NULL;
    Py_XDECREF(a);
    Py_XDECREF(t);
    if (*texts == NULL || *ttls == NULL) {
        Py_CLEAR(*texts);
        Py_CLEAR(*ttls);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static const char *service_of(const fp_dns_txn *x)
{
    uint16_t p = x->orig_is_b ? x->key.pa : x->key.pb; /* the responder's port names the flavour */
    uint16_t q = x->orig_is_b ? x->key.pb : x->key.pa;
    if (p == 5353 || (p != 53 && q == 5353)) return "mdns";
    if (p == 5355 || (p != 53 && q == 5355)) return "llmnr";
    return "dns";
}

PyObject *fp_dns_record_new(fp_state *st, const void *txn)
{
    const fp_dns_txn *x = txn;
    const fp_flow_key *k = &x->key;
    int queried = x->query_ns != FP_FLOW_NO_TIME, answered = x->resp != NULL;
    uint16_t rflags = answered ? fp_dns_be16(x->resp + 2) : 0;
    uint16_t qflags = queried ? x->qflags : rflags;
    uint16_t last = answered ? rflags : qflags; /* flags the latest message says */
    PyObject *rec = PyStructSequence_New(st->DnsTransaction_Type);
    if (rec == NULL) return NULL;
    PyObject *val[NUM_DNS_FIELDS];
    val[DF_ts] = PyFloat_FromDouble((double)(queried ? x->query_ns : x->open_ns) / 1e9);
    val[DF_flow_id] = PyLong_FromUnsignedLongLong(x->flow_id);
    val[DF_orig_h] = endpoint_ip(k, x->orig_is_b);
    val[DF_orig_p] = PyLong_FromLong(x->orig_is_b ? k->pb : k->pa);
    val[DF_resp_h] = endpoint_ip(k, !x->orig_is_b);
    val[DF_resp_p] = PyLong_FromLong(x->orig_is_b ? k->pa : k->pb);
    val[DF_ip_version] = PyLong_FromLong(k->ip_version);
    val[DF_proto] = PyUnicode_FromString(x->tcp ? "tcp" : "udp");
    val[DF_service] = PyUnicode_FromString(service_of(x));
    val[DF_trans_id] = PyLong_FromLong(x->id);
    val[DF_rtt] = queried && x->response_ns != FP_FLOW_NO_TIME
                      ? PyFloat_FromDouble((double)(x->response_ns - x->query_ns) / 1e9)
                      : none();
    val[DF_query] = x->qname ? PyUnicode_DecodeUTF8(x->qname, (Py_ssize_t)strlen(x->qname), "backslashreplace")
                             : none();
    val[DF_qclass] = x->has_question ? PyLong_FromLong(x->qclass) : none();
    val[DF_qclass_name] = x->has_question ? CODE_TEXT(qclasses, x->qclass, "qclass-") : none();
    val[DF_qtype] = x->has_question ? PyLong_FromLong(x->qtype) : none();
    val[DF_qtype_name] = x->has_question ? CODE_TEXT(qtypes, x->qtype, "query-") : none();
    val[DF_rcode] = answered ? PyLong_FromLong(rflags & 15) : none();
    val[DF_rcode_name] = answered ? CODE_TEXT(rcodes, rflags & 15u, "rcode-") : none();
    val[DF_AA] = PyBool_FromLong(answered && (rflags & 0x0400));
    val[DF_TC] = PyBool_FromLong((last & 0x0200) != 0);
    val[DF_RD] = PyBool_FromLong((qflags & 0x0100) != 0);
    val[DF_RA] = PyBool_FromLong(answered && (rflags & 0x0080));
    val[DF_Z] = PyLong_FromLong((last >> 4) & 7);
    val[DF_opcode] = PyLong_FromLong((qflags >> 11) & 15);
    val[DF_opcode_name] = CODE_TEXT(opcodes, (qflags >> 11) & 15u, "opcode-");
    if (answers(x, &val[DF_answers], &val[DF_TTLs]) < 0) val[DF_answers] = val[DF_TTLs] = NULL;
    int rejected = answered && x->resp_len >= 12 && fp_dns_be16(x->resp + 6) == 0 &&
                   fp_dns_be16(x->resp + 8) == 0 && fp_dns_be16(x->resp + 10) == 0;
    val[DF_rejected] = PyBool_FromLong(rejected);
    val[DF_queries] = PyLong_FromUnsignedLong(x->queries);
    val[DF_responses] = PyLong_FromUnsignedLong(x->responses);
    val[DF_answered] = PyBool_FromLong(x->responses != 0);
    fp_flag_group g = {x->anomalies, fp_dns_txn_anomaly_names, FP_DNS_TXN_ANOM_COUNT, ""};
    val[DF_anomalies] = fp_flag_names(&g, 1);
    int ok = 1;
    for (int i = 0; i < NUM_DNS_FIELDS; i++) {
        if (val[i] == NULL) ok = 0;
        PyStructSequence_SetItem(rec, i, val[i]);
    }
    if (!ok) Py_CLEAR(rec);
    return rec;
}

/* One line: who asked whom what, and what came back. */
static PyObject *dns_repr(PyObject *self)
{
    PyObject *const *v = &PyTuple_GET_ITEM(self, 0);
    PyObject *rcode = v[DF_rcode_name] == Py_None ? PyUnicode_FromString("unanswered") : Py_NewRef(v[DF_rcode_name]);
    if (rcode == NULL) return NULL;
    PyObject *r = PyUnicode_FromFormat("<DnsTransaction %S:%S -> %S:%S %S id=%S %S %S %S answers=%zd rtt=%S%s>",
                                       v[DF_orig_h], v[DF_orig_p], v[DF_resp_h], v[DF_resp_p], v[DF_proto],
                                       v[DF_trans_id], v[DF_qtype_name], v[DF_query], rcode,
                                       PyTuple_GET_SIZE(v[DF_answers]), v[DF_rtt],
                                       PyTuple_GET_SIZE(v[DF_anomalies]) ? " anomalies" : "");
    Py_DECREF(rcode);
    return r;
}

#define F_FIELD(name, doc) {#name, doc},
static PyStructSequence_Field dns_fields[NUM_DNS_FIELDS + 1] = {DNS_FIELDS(F_FIELD){NULL, NULL}};
static PyStructSequence_Desc dns_desc = {
    "fastpkt.DnsTransaction",
    "One DNS transaction: a query and its response(s) on one connection with one id (columns\n"
    "after Zeek's dns.log), or a response whose query was not seen.",
    dns_fields,
    NUM_DNS_FIELDS,
};

int fp_dns_register(PyObject *m, fp_state *st)
{
    if (fp_add_struct_type(m, &dns_desc, &st->DnsTransaction_Type, "DNS_FIELDS") < 0) return -1;
    st->DnsTransaction_Type->tp_repr = dns_repr;
    PyType_Modified(st->DnsTransaction_Type);
    return fp_add_view_method(st->DnsTransaction_Type);
}
