/* DnsTransaction records: one closed transaction (csrc/stream/dns_tracker.c, found in the
 * engine's GIL-free pass) as a struct sequence whose fields are the table's columns, named
 * after Zeek's dns.log, and many transactions at once as typed column buffers (the
 * fastpkt.frames protocol: DnsTransactions' exports), built without the GIL and without a
 * Python object per row. Answers are read from the kept response message in both. */
#include "pyfp.h"
#include "columns.h"
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

/* What a row says about a transaction, shared by records and columns. */
typedef struct {
    int queried, answered, has_rtt, rejected;
    int64_t ts_ns, rtt_ns;
    uint16_t rflags, qflags, last; /* the response's, the query's (else the response's), the latest's */
} dns_view;

static void view_of(const fp_dns_txn *x, dns_view *v)
{
    v->queried = x->query_ns != FP_FLOW_NO_TIME;
    v->answered = x->resp != NULL;
    v->rflags = v->answered ? fp_dns_be16(x->resp + 2) : 0;
    v->qflags = v->queried ? x->qflags : v->rflags;
    v->last = v->answered ? v->rflags : v->qflags;
    v->ts_ns = v->queried ? x->query_ns : x->open_ns;
    v->has_rtt = v->queried && x->response_ns != FP_FLOW_NO_TIME;
    v->rtt_ns = v->has_rtt ? x->response_ns - x->query_ns : 0;
    v->rejected = v->answered && x->resp_len >= 12 && fp_dns_be16(x->resp + 6) == 0 &&
                  fp_dns_be16(x->resp + 8) == 0 && fp_dns_be16(x->resp + 10) == 0;
}

PyObject *fp_dns_record_new(fp_state *st, const void *txn)
{
    const fp_dns_txn *x = txn;
    const fp_flow_key *k = &x->key;
    dns_view w;
    view_of(x, &w);
    PyObject *rec = PyStructSequence_New(st->DnsTransaction_Type);
    if (rec == NULL) return NULL;
    PyObject *val[NUM_DNS_FIELDS];
    val[DF_ts] = PyFloat_FromDouble((double)w.ts_ns / 1e9);
    val[DF_flow_id] = PyLong_FromUnsignedLongLong(x->flow_id);
    val[DF_orig_h] = endpoint_ip(k, x->orig_is_b);
    val[DF_orig_p] = PyLong_FromLong(x->orig_is_b ? k->pb : k->pa);
    val[DF_resp_h] = endpoint_ip(k, !x->orig_is_b);
    val[DF_resp_p] = PyLong_FromLong(x->orig_is_b ? k->pa : k->pb);
    val[DF_ip_version] = PyLong_FromLong(k->ip_version);
    val[DF_proto] = PyUnicode_FromString(x->tcp ? "tcp" : "udp");
    val[DF_service] = PyUnicode_FromString(service_of(x));
    val[DF_trans_id] = PyLong_FromLong(x->id);
    val[DF_rtt] = w.has_rtt ? PyFloat_FromDouble((double)w.rtt_ns / 1e9) : none();
    val[DF_query] = x->qname ? PyUnicode_DecodeUTF8(x->qname, (Py_ssize_t)strlen(x->qname), "backslashreplace")
                             : none();
    val[DF_qclass] = x->has_question ? PyLong_FromLong(x->qclass) : none();
    val[DF_qclass_name] = x->has_question ? CODE_TEXT(qclasses, x->qclass, "qclass-") : none();
    val[DF_qtype] = x->has_question ? PyLong_FromLong(x->qtype) : none();
    val[DF_qtype_name] = x->has_question ? CODE_TEXT(qtypes, x->qtype, "query-") : none();
    val[DF_rcode] = w.answered ? PyLong_FromLong(w.rflags & 15) : none();
    val[DF_rcode_name] = w.answered ? CODE_TEXT(rcodes, w.rflags & 15u, "rcode-") : none();
    val[DF_AA] = PyBool_FromLong(w.answered && (w.rflags & 0x0400));
    val[DF_TC] = PyBool_FromLong((w.last & 0x0200) != 0);
    val[DF_RD] = PyBool_FromLong((w.qflags & 0x0100) != 0);
    val[DF_RA] = PyBool_FromLong(w.answered && (w.rflags & 0x0080));
    val[DF_Z] = PyLong_FromLong((w.last >> 4) & 7);
    val[DF_opcode] = PyLong_FromLong((w.qflags >> 11) & 15);
    val[DF_opcode_name] = CODE_TEXT(opcodes, (w.qflags >> 11) & 15u, "opcode-");
    if (answers(x, &val[DF_answers], &val[DF_TTLs]) < 0) val[DF_answers] = val[DF_TTLs] = NULL;
    val[DF_rejected] = PyBool_FromLong(w.rejected);
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

/* ---- columns ---------------------------------------------------------------- */

/* Column kinds: spec dtype and bytes per row (lists: per item; 4-byte offsets per row). */
typedef enum { K_TIME, K_U8, K_U4, K_U2, K_U1, K_BOOL, K_MDUR, K_MU2, K_CAT, K_IP, K_LIST_CAT, K_LIST_F8 } dns_kind;

static const dns_kind kinds[NUM_DNS_FIELDS] = {
    [DF_ts] = K_TIME, [DF_flow_id] = K_U8, [DF_orig_h] = K_IP, [DF_orig_p] = K_U2, [DF_resp_h] = K_IP,
    [DF_resp_p] = K_U2, [DF_ip_version] = K_U1, [DF_proto] = K_CAT, [DF_service] = K_CAT, [DF_trans_id] = K_U2,
    [DF_rtt] = K_MDUR, [DF_query] = K_CAT, [DF_qclass] = K_MU2, [DF_qclass_name] = K_CAT, [DF_qtype] = K_MU2,
    [DF_qtype_name] = K_CAT, [DF_rcode] = K_MU2, [DF_rcode_name] = K_CAT, [DF_AA] = K_BOOL, [DF_TC] = K_BOOL,
    [DF_RD] = K_BOOL, [DF_RA] = K_BOOL, [DF_Z] = K_U1, [DF_opcode] = K_U1, [DF_opcode_name] = K_CAT,
    [DF_answers] = K_LIST_CAT, [DF_TTLs] = K_LIST_F8, [DF_rejected] = K_BOOL, [DF_queries] = K_U4,
    [DF_responses] = K_U4, [DF_answered] = K_BOOL, [DF_anomalies] = K_LIST_CAT,
};

#define F_NAME(name, doc) #name,
static const char *const column_names[NUM_DNS_FIELDS] = {DNS_FIELDS(F_NAME)};
#undef F_NAME

static const char *const kind_dtype[] = {
    [K_TIME] = "datetime64[ns]", [K_U8] = "<u8", [K_U4] = "<u4", [K_U2] = "<u2", [K_U1] = "<u1",
    [K_BOOL] = "|b1", [K_MDUR] = "maskedtimedelta64[ns]", [K_MU2] = "masked<u2", [K_CAT] = "category",
    [K_IP] = "category", [K_LIST_CAT] = "list<str>", [K_LIST_F8] = "list<f8>",
};
static const int kind_width[] = {[K_TIME] = 8, [K_U8] = 8, [K_U4] = 4, [K_U2] = 2, [K_U1] = 1, [K_BOOL] = 1,
                                 [K_MDUR] = 8, [K_MU2] = 2, [K_CAT] = 4, [K_IP] = 4, [K_LIST_CAT] = 4,
                                 [K_LIST_F8] = 4};

typedef struct {
    uint8_t *p;
    size_t len, cap;
} dns_buf;

/* Rows of many transactions: values (list columns: each row's first item), masks (1 =
 * missing), list items, and interners for the categories (answers' texts, names). */
struct fp_dns_cols {
    size_t rows;
    dns_buf val[NUM_DNS_FIELDS], mask[NUM_DNS_FIELDS], items[NUM_DNS_FIELDS];
    fp_interner cats[NUM_DNS_FIELDS];
    fp_dns_record rec;     /* the answer being read */
    char *text;            /* its text */
    size_t text_cap;
    int oom;
};

fp_dns_cols *fp_dns_cols_new(void)
{
    return PyMem_RawCalloc(1, sizeof(fp_dns_cols));
}

void fp_dns_cols_free(fp_dns_cols *b)
{
    if (b == NULL) return;
    for (int c = 0; c < NUM_DNS_FIELDS; c++) {
        PyMem_RawFree(b->val[c].p);
        PyMem_RawFree(b->mask[c].p);
        PyMem_RawFree(b->items[c].p);
        fp_interner_free(&b->cats[c]);
    }
    PyMem_RawFree(b->text);
    PyMem_RawFree(b);
}

/* Append n bytes; growth doubles (large blocks are remapped by realloc, not copied). */
static void put(fp_dns_cols *b, dns_buf *d, const void *v, size_t n)
{
    if (b->oom) return;
    if (d->len + n > d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4096;
        while (cap < d->len + n) cap *= 2;
        uint8_t *p = PyMem_RawRealloc(d->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        d->p = p;
        d->cap = cap;
    }
    memcpy(d->p + d->len, v, n);
    d->len += n;
}

static void put_u(fp_dns_cols *b, int c, uint64_t v)
{
    uint8_t w = (uint8_t)kind_width[kinds[c]];
    uint8_t bytes[8];
    for (int i = 0; i < w; i++) bytes[i] = (uint8_t)(v >> (8 * i)); /* little-endian, as the dtypes say */
    put(b, &b->val[c], bytes, w);
}

static void put_masked(fp_dns_cols *b, int c, uint64_t v, int present)
{
    uint8_t missing = !present;
    put_u(b, c, present ? v : 0);
    put(b, &b->mask[c], &missing, 1);
}

static void put_code(fp_dns_cols *b, int c, int32_t code)
{
    if (code < -1) code = -1;
    put(b, &b->val[c], &code, 4);
}

static void put_text(fp_dns_cols *b, int c, const char *s, size_t n)
{
    int32_t code = s ? fp_intern_bytes(&b->cats[c], (const uint8_t *)s, n) : -1;
    if (s && code < 0) b->oom = 1;
    put_code(b, c, code);
}

static void put_name(fp_dns_cols *b, int c, const code_name *t, size_t n, unsigned code, const char *fallback,
                     int present)
{
    char buf[32];
    const char *s = NULL;
    for (size_t i = 0; present && s == NULL && i < n; i++)
        if (t[i].code == code) s = t[i].name;
    if (present && s == NULL) {
        snprintf(buf, sizeof buf, "%s%u", fallback, code);
        s = buf;
    }
    put_text(b, c, s, s ? strlen(s) : 0);
}
#define PUT_NAME(b, c, table, code, fallback, present) \
    put_name((b), (c), (table), sizeof(table) / sizeof((table)[0]), (code), (fallback), (present))

static void put_ip(fp_dns_cols *b, int c, const fp_flow_key *k, int side_b)
{
    const uint8_t *a = side_b ? k->b : k->a;
    uint64_t k0 = 0, k1 = 0;
    uint16_t n = k->ip_version == 4 ? 4 : 16;
    memcpy(&k0, a, n < 8 ? n : 8);
    if (n == 16) memcpy(&k1, a + 8, 8);
    int32_t code = fp_intern_fixed(&b->cats[c], k0, k1, n);
    if (code < 0) b->oom = 1;
    put_code(b, c, code);
}

/* The row's first item: a list column's offset into its items. */
static void put_offset(fp_dns_cols *b, int c)
{
    size_t items = b->items[c].len / (kinds[c] == K_LIST_F8 ? 8 : 4);
    if (items > INT32_MAX) b->oom = 1; /* Arrow's list offsets are int32 */
    put_u(b, c, items);
}

/* The answer section's texts (interned) and TTLs, as answers() reads them for a record. */
static void put_answers(fp_dns_cols *b, const fp_dns_txn *x)
{
    fp_dns_iter it;
    put_offset(b, DF_answers);
    put_offset(b, DF_TTLs);
    if (x->resp == NULL || fp_dns_iter_init(&it, x->resp, x->resp_len) != 0) return;
    while (!b->oom && fp_dns_iter_next(&it, &b->rec) == 1 && b->rec.section <= FP_DNS_AN) {
        if (b->rec.section != FP_DNS_AN) continue;
        size_t cap = 4 * (size_t)b->rec.rdlength + 2 * FP_DNS_NAME_MAX + 64;
        if (cap > b->text_cap) {
            char *t = PyMem_RawRealloc(b->text, cap);
            if (t == NULL) {
                b->oom = 1;
                return;
            }
            b->text = t;
            b->text_cap = cap;
        }
        int n = fp_dns_rdata_text(x->resp, x->resp_len, &b->rec, b->text, cap);
        if (n < 0) n = (int)generic_rdata(x->resp + b->rec.rdata_off, b->rec.rdlength, b->text);
        int32_t code = fp_intern_bytes(&b->cats[DF_answers], (const uint8_t *)b->text, (size_t)n);
        double ttl = (double)b->rec.ttl;
        if (code < 0) b->oom = 1;
        put(b, &b->items[DF_answers], &code, 4);
        put(b, &b->items[DF_TTLs], &ttl, 8);
    }
}

static void put_anomalies(fp_dns_cols *b, uint32_t bits)
{
    put_offset(b, DF_anomalies);
    for (int32_t bit = 0; bit < FP_DNS_TXN_ANOM_COUNT; bit++)
        if (bits & (1u << bit)) put(b, &b->items[DF_anomalies], &bit, 4);
}

static void put_row(fp_dns_cols *b, const fp_dns_txn *x)
{
    const fp_flow_key *k = &x->key;
    dns_view w;
    view_of(x, &w);
    const char *proto = x->tcp ? "tcp" : "udp", *service = service_of(x);
    put_u(b, DF_ts, (uint64_t)w.ts_ns);
    put_u(b, DF_flow_id, x->flow_id);
    put_ip(b, DF_orig_h, k, x->orig_is_b);
    put_u(b, DF_orig_p, x->orig_is_b ? k->pb : k->pa);
    put_ip(b, DF_resp_h, k, !x->orig_is_b);
    put_u(b, DF_resp_p, x->orig_is_b ? k->pa : k->pb);
    put_u(b, DF_ip_version, k->ip_version);
    put_text(b, DF_proto, proto, 3);
    put_text(b, DF_service, service, strlen(service));
    put_u(b, DF_trans_id, x->id);
    put_masked(b, DF_rtt, (uint64_t)w.rtt_ns, w.has_rtt);
    put_text(b, DF_query, x->qname, x->qname ? strlen(x->qname) : 0);
    put_masked(b, DF_qclass, x->qclass, x->has_question);
    PUT_NAME(b, DF_qclass_name, qclasses, x->qclass, "qclass-", x->has_question);
    put_masked(b, DF_qtype, x->qtype, x->has_question);
    PUT_NAME(b, DF_qtype_name, qtypes, x->qtype, "query-", x->has_question);
    put_masked(b, DF_rcode, w.rflags & 15u, w.answered);
    PUT_NAME(b, DF_rcode_name, rcodes, w.rflags & 15u, "rcode-", w.answered);
    put_u(b, DF_AA, w.answered && (w.rflags & 0x0400));
    put_u(b, DF_TC, (w.last & 0x0200) != 0);
    put_u(b, DF_RD, (w.qflags & 0x0100) != 0);
    put_u(b, DF_RA, w.answered && (w.rflags & 0x0080));
    put_u(b, DF_Z, (w.last >> 4) & 7u);
    put_u(b, DF_opcode, (w.qflags >> 11) & 15u);
    PUT_NAME(b, DF_opcode_name, opcodes, (w.qflags >> 11) & 15u, "opcode-", 1);
    put_answers(b, x);
    put_u(b, DF_rejected, (uint64_t)w.rejected);
    put_u(b, DF_queries, x->queries);
    put_u(b, DF_responses, x->responses);
    put_u(b, DF_answered, x->responses != 0);
    put_anomalies(b, x->anomalies);
    b->rows++;
}

int fp_dns_cols_add(fp_dns_cols *b, const fp_flow *out, size_t n)
{
    for (size_t i = 0; i < n && !b->oom; i++) put_row(b, out[i].ext);
    return b->oom ? -1 : 0;
}

/* A buffer as a bytearray (copied: the builder's blocks are then freed one at a time, so
 * the peak is the columns plus the largest of them). */
static PyObject *take(dns_buf *d)
{
    PyObject *o = PyByteArray_FromStringAndSize(d->len ? (const char *)d->p : NULL, (Py_ssize_t)d->len);
    PyMem_RawFree(d->p);
    d->p = NULL;
    d->len = d->cap = 0;
    return o;
}

static PyObject *anomaly_names(void)
{
    PyObject *l = PyList_New(FP_DNS_TXN_ANOM_COUNT);
    for (int i = 0; l && i < FP_DNS_TXN_ANOM_COUNT; i++) {
        PyObject *s = PyUnicode_FromString(fp_dns_txn_anomaly_names[i]);
        if (s == NULL) Py_CLEAR(l);
        else PyList_SET_ITEM(l, i, s);
    }
    return l;
}

static PyObject *column_spec(fp_state *st, fp_dns_cols *b, int c)
{
    const char *name = column_names[c];
    dns_kind k = kinds[c];
    PyObject *cats = NULL;
    if (k == K_CAT || k == K_IP || c == DF_answers) {
        cats = fp_interner_categories(st, &b->cats[c], k == K_IP ? FP_CAT_IP : FP_CAT_TEXT);
        fp_interner_free(&b->cats[c]);
        memset(&b->cats[c], 0, sizeof b->cats[c]);
    } else if (c == DF_anomalies) {
        cats = anomaly_names();
    }
    if ((k == K_CAT || k == K_IP || k == K_LIST_CAT) && cats == NULL) return NULL;
    if (k == K_LIST_CAT || k == K_LIST_F8) { /* the last row's end closes the offsets */
        uint32_t end = (uint32_t)(b->items[c].len / (k == K_LIST_F8 ? 8 : 4));
        put(b, &b->val[c], &end, 4);
        if (b->oom) {
            Py_XDECREF(cats);
            return PyErr_NoMemory();
        }
    }
    PyObject *v = take(&b->val[c]), *x = NULL;
    if (k == K_MDUR || k == K_MU2) x = take(&b->mask[c]);
    else if (k == K_LIST_CAT || k == K_LIST_F8) x = take(&b->items[c]);
    if (v == NULL || ((k == K_MDUR || k == K_MU2 || k == K_LIST_CAT || k == K_LIST_F8) && x == NULL)) {
        Py_XDECREF(v);
        Py_XDECREF(x);
        Py_XDECREF(cats);
        return NULL;
    }
    if (k == K_LIST_CAT) return Py_BuildValue("(ssNNN)", name, kind_dtype[k], v, x, cats);
    if (cats) return Py_BuildValue("(ssNN)", name, kind_dtype[k], v, cats);
    if (x) return Py_BuildValue("(ssNN)", name, kind_dtype[k], v, x);
    return Py_BuildValue("(ssN)", name, kind_dtype[k], v);
}

PyObject *fp_dns_cols_finish(fp_state *st, fp_dns_cols *b)
{
    PyObject *specs = NULL;
    if (b->oom) {
        PyErr_NoMemory();
        goto out;
    }
    specs = PyList_New(NUM_DNS_FIELDS);
    for (int c = 0; specs && c < NUM_DNS_FIELDS; c++) {
        PyObject *spec = column_spec(st, b, c);
        if (spec == NULL) Py_CLEAR(specs);
        else PyList_SET_ITEM(specs, c, spec);
    }
out:
    fp_dns_cols_free(b);
    return specs;
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
