/* ClientHello records: one connection's hellos (found by csrc/stream/hello_tracker.c in the
 * engine's GIL-free pass) parsed and fingerprinted into a struct sequence. */
#include "pyfp.h"
#include "engine.h"

#include "../stream/hello_tracker.h"

#define HELLO_FIELDS(X)                                                                        \
    X(time, "time of the packet completing the ClientHello (float seconds)")                  \
    X(stream_id, "the connection's flow_id") X(client_ip, "sender of the ClientHello")        \
    X(client_port, "") X(server_ip, "") X(server_port, "") X(ip_version, "4 or 6")             \
    X(transport, "'tcp' or 'quic'") X(sni, "first server_name host_name, or None")             \
    X(server_names, "every host_name") X(alpn, "ALPN protocols offered, in order")             \
    X(version, "highest TLS version offered (supported_versions, else legacy_version)")       \
    X(version_name, "e.g. 'TLS 1.3'") X(legacy_version, "the hello's legacy_version")         \
    X(versions, "supported_versions, in order (GREASE included)")                             \
    X(ciphers, "cipher suites, in order (GREASE included)")                                   \
    X(extensions, "extension types, in order (GREASE included)")                              \
    X(groups, "supported_groups") X(signature_algorithms, "")                                 \
    X(key_share_groups, "groups of the key_share entries") X(ec_point_formats, "")           \
    X(psk_modes, "psk_key_exchange_modes") X(ech, "encrypted_client_hello present")         \
    X(grease, "GREASE values present") X(ja3, "JA3 string") X(ja3_hash, "JA3 (MD5)")          \
    X(ja4, "JA4") X(ja4_r, "JA4_r (raw)") X(hello_size, "ClientHello body length its header claims")             \
    X(quic_version, "QUIC version of the Initial, or None")                                   \
    X(server_time, "time of the ServerHello, or None")                                        \
    X(server_version, "version the server selected, or None")                                 \
    X(server_cipher, "cipher suite the server selected, or None")                             \
    X(server_alpn, "ALPN the ServerHello selected (TLS <= 1.2), or None")                     \
    X(ja3s, "JA3S string, or None") X(ja3s_hash, "JA3S (MD5), or None")                       \
    X(anomalies, "names of what was malformed or incomplete")

#define F_ENUM(name, doc) HF_##name,
enum { HELLO_FIELDS(F_ENUM) NUM_HELLO_FIELDS };

/* A tuple of the first min(n, cap) values of an array of uint8_t (width 1) or uint16_t. */
static PyObject *int_tuple(const void *v, int width, uint32_t n, uint32_t cap)
{
    if (n > cap) n = cap;
    PyObject *t = PyTuple_New(n);
    for (uint32_t i = 0; t && i < n; i++) {
        long x = width == 1 ? ((const uint8_t *)v)[i] : ((const uint16_t *)v)[i];
        PyObject *o = PyLong_FromLong(x);
        if (o == NULL) Py_CLEAR(t);
        else PyTuple_SET_ITEM(t, i, o);
    }
    return t;
}
#define u16_tuple(v, n, cap) int_tuple((v), 2, (n), (cap))
#define u8_tuple(v, n, cap) int_tuple((v), 1, (n), (cap))

static PyObject *span_text(const fp_tls_hello *h, fp_tls_span s)
{
    return PyUnicode_DecodeUTF8((const char *)h->body + s.off, (Py_ssize_t)s.len, "backslashreplace");
}

static PyObject *span_tuple(const fp_tls_hello *h, const fp_tls_span *s, uint32_t n, uint32_t cap)
{
    if (n > cap) n = cap;
    PyObject *t = PyTuple_New(n);
    for (uint32_t i = 0; t && i < n; i++) {
        PyObject *o = span_text(h, s[i]);
        if (o == NULL) Py_CLEAR(t);
        else PyTuple_SET_ITEM(t, i, o);
    }
    return t;
}

static PyObject *version_name(uint16_t v)
{
    switch (v) {
    case 0x0300: return PyUnicode_FromString("SSL 3.0");
    case 0x0301: return PyUnicode_FromString("TLS 1.0");
    case 0x0302: return PyUnicode_FromString("TLS 1.1");
    case 0x0303: return PyUnicode_FromString("TLS 1.2");
    case 0x0304: return PyUnicode_FromString("TLS 1.3");
    }
    return PyUnicode_FromFormat("0x%04x", v);
}

static PyObject *text_or_none(const char *s) { return s ? PyUnicode_FromString(s) : Py_NewRef(Py_None); }

static int grease_in(const uint16_t *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (fp_tls_is_grease(v[i])) return 1;
    return 0;
}

/* Hello anomalies, then the record layer's and QUIC's trouble, then the engine's (the
 * connection evicted before the server answered, an allocation failure in drop mode). */
static PyObject *anomaly_names(const fp_flow *f, const fp_hello_conn *c, const fp_hello_view *v)
{
    static const unsigned asm_trouble = FP_TLS_ASM(GAP) | FP_TLS_ASM(TOO_BIG) | FP_TLS_ASM(BAD_RECORD) |
                                        FP_TLS_ASM(INTERLEAVED) | FP_TLS_ASM(NOMEM) | FP_TLS_ASM(EMPTY_RECORD);
    static const unsigned quic_trouble = FP_QUIC_F_TRUNCATED | FP_QUIC_F_CID_TOO_LONG | FP_QUIC_F_AUTH_FAILED |
                                         FP_QUIC_F_FRAME_MALFORMED | FP_QUIC_F_UNKNOWN_FRAME |
                                         FP_QUIC_F_CRYPTO_OVER_WINDOW;
    uint32_t fa = f->flow_anomalies & (FP_FLOW_ANOM_EVICTED | FP_FLOW_ANOM_ALLOC_FAILED);
    if (c->alloc_failed) fa |= FP_FLOW_ANOM_ALLOC_FAILED;
    fp_flag_group groups[] = {
        {v->ch.anomalies, fp_tls_hello_anomaly_names, FP_TLS_HELLO_ANOM_COUNT, ""},
        {c->asm_flags[c->client_dir] & asm_trouble, fp_tls_asm_flag_names, FP_TLS_ASM_FLAG_COUNT,
         "tls_record_"},
        {c->quic_flags & quic_trouble, fp_quic_flag_names, FP_QUIC_F_COUNT_BITS, "quic_"},
        {fa, fp_flow_anomaly_names, FP_FLOW_ANOM_COUNT_BITS, ""},
    };
    return fp_flag_names(groups, sizeof groups / sizeof groups[0]);
}

static PyObject *endpoint_ip(const fp_flow_key *k, int b)
{
    const uint8_t *a = b ? k->b : k->a;
    return k->ip_version == 4 ? fp_ip4_str(a) : fp_ip6_str(a);
}

static PyObject *fill(PyObject *rec, const fp_flow *f, const fp_hello_conn *c, const fp_hello_view *v)
{
    const fp_tls_hello *h = &v->ch, *s = &v->sh;
    const fp_flow_key *k = &f->key;
    /* the ClientHello's sender is the client, whatever the flow's orientation */
    int client_b = c->client_dir == 0 ? f->client_is_b : !f->client_is_b;
    PyObject *val[NUM_HELLO_FIELDS];
    val[HF_time] = PyFloat_FromDouble((double)c->hello_ns[0] / 1e9);
    val[HF_stream_id] = PyLong_FromUnsignedLongLong(f->flow_id);
    val[HF_client_ip] = endpoint_ip(k, client_b);
    val[HF_client_port] = PyLong_FromLong(client_b ? k->pb : k->pa);
    val[HF_server_ip] = endpoint_ip(k, !client_b);
    val[HF_server_port] = PyLong_FromLong(client_b ? k->pa : k->pb);
    val[HF_ip_version] = PyLong_FromLong(k->ip_version);
    val[HF_transport] = PyUnicode_FromString(c->transport == 'q' ? "quic" : "tcp");
    val[HF_sni] = h->sni_count ? span_text(h, h->sni[0]) : Py_NewRef(Py_None);
    val[HF_server_names] = span_tuple(h, h->sni, h->sni_count, FP_TLS_MAX_SNI);
    val[HF_alpn] = span_tuple(h, h->alpn, h->alpn_count, FP_TLS_MAX_ALPN);
    uint16_t top = fp_hello_max_version(h);
    val[HF_version] = PyLong_FromLong(top);
    val[HF_version_name] = version_name(top);
    val[HF_legacy_version] = PyLong_FromLong(h->legacy_version);
    val[HF_versions] = u16_tuple(h->versions, h->version_count, FP_TLS_MAX_VERSIONS);
    val[HF_ciphers] = u16_tuple(h->ciphers, h->cipher_count, FP_TLS_MAX_CIPHERS);
    PyObject *exts = PyTuple_New(h->ext_count < FP_TLS_MAX_EXTENSIONS ? h->ext_count : FP_TLS_MAX_EXTENSIONS);
    for (Py_ssize_t i = 0; exts && i < PyTuple_GET_SIZE(exts); i++) {
        PyObject *o = PyLong_FromLong(h->exts[i].type);
        if (o == NULL) Py_CLEAR(exts);
        else PyTuple_SET_ITEM(exts, i, o);
    }
    val[HF_extensions] = exts;
    val[HF_groups] = u16_tuple(h->groups, h->group_count, FP_TLS_MAX_GROUPS);
    val[HF_signature_algorithms] = u16_tuple(h->sigalgs, h->sigalg_count, FP_TLS_MAX_SIGALGS);
    val[HF_key_share_groups] = u16_tuple(h->key_share_groups, h->key_share_count, FP_TLS_MAX_KEY_SHARES);
    val[HF_ec_point_formats] = u8_tuple(h->point_formats, h->point_format_count, FP_TLS_MAX_POINT_FORMATS);
    val[HF_psk_modes] = u8_tuple(h->psk_modes, h->psk_mode_count, FP_TLS_MAX_PSK_MODES);
    val[HF_ech] = PyBool_FromLong(h->has_ech);
    val[HF_grease] = PyBool_FromLong(h->grease != 0 || grease_in(h->ciphers, h->cipher_count < FP_TLS_MAX_CIPHERS
                                                                                ? h->cipher_count
                                                                                : FP_TLS_MAX_CIPHERS));
    val[HF_ja3] = text_or_none(v->ja3_str);
    val[HF_ja3_hash] = text_or_none(v->ja3_str ? v->ja3 : NULL);
    val[HF_ja4] = text_or_none(v->ja4[0] ? v->ja4 : NULL);
    val[HF_ja4_r] = text_or_none(v->ja4_r);
    val[HF_hello_size] = PyLong_FromUnsignedLong(c->hello_wire_len ? c->hello_wire_len : c->hello_len[0]);
    val[HF_quic_version] = c->transport == 'q' ? PyLong_FromUnsignedLong(c->quic_version) : Py_NewRef(Py_None);
    int sh = v->has_sh;
    val[HF_server_time] = sh ? PyFloat_FromDouble((double)c->hello_ns[1] / 1e9) : Py_NewRef(Py_None);
    val[HF_server_version] = sh ? PyLong_FromLong(s->selected_version) : Py_NewRef(Py_None);
    val[HF_server_cipher] = sh ? PyLong_FromLong(s->cipher) : Py_NewRef(Py_None);
    val[HF_server_alpn] = sh && s->alpn_count ? span_text(s, s->alpn[0]) : Py_NewRef(Py_None);
    val[HF_ja3s] = text_or_none(sh ? v->ja3s_str : NULL);
    val[HF_ja3s_hash] = text_or_none(sh && v->ja3s_str ? v->ja3s : NULL);
    val[HF_anomalies] = anomaly_names(f, c, v);
    int ok = 1;
    for (int i = 0; i < NUM_HELLO_FIELDS; i++) {
        if (val[i] == NULL) ok = 0;
        PyStructSequence_SetItem(rec, i, val[i]);
    }
    if (!ok) Py_CLEAR(rec);
    return rec;
}

PyObject *fp_hello_record_new(fp_state *st, const fp_flow *f, void *conn)
{
    const fp_hello_conn *c = conn;
    fp_hello_view *v = PyMem_Malloc(sizeof *v);
    if (v == NULL) return PyErr_NoMemory();
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = fp_hello_view_make(c, v);
    Py_END_ALLOW_THREADS
    PyObject *rec = NULL;
    if (rc < 0) PyErr_SetString(PyExc_RuntimeError, "connection without a ClientHello");
    else if ((rec = PyStructSequence_New(st->ClientHello_Type)) != NULL) rec = fill(rec, f, c, v);
    fp_hello_view_free(v);
    PyMem_Free(v);
    return rec;
}

/* Views made per GIL release in fp_hello_records_new (6.6 KiB each). */
#define HELLO_GROUP 16

int fp_hello_records_new(fp_state *st, const fp_flow *f, size_t n, PyObject **out)
{
    fp_hello_view *v = PyMem_Malloc(HELLO_GROUP * sizeof *v);
    if (v == NULL && n) {
        PyErr_NoMemory();
        return -1;
    }
    int rc[HELLO_GROUP];
    size_t made = 0;
    while (made < n) {
        size_t g = n - made < HELLO_GROUP ? n - made : HELLO_GROUP, i;
        Py_BEGIN_ALLOW_THREADS
        for (i = 0; i < g; i++) rc[i] = fp_hello_view_make(f[made + i].ext, &v[i]);
        Py_END_ALLOW_THREADS
        int ok = 1;
        for (i = 0; i < g; i++) {
            PyObject *rec = NULL;
            if (ok && rc[i] < 0) PyErr_SetString(PyExc_RuntimeError, "connection without a ClientHello");
            else if (ok && (rec = PyStructSequence_New(st->ClientHello_Type)) != NULL)
                rec = fill(rec, &f[made + i], f[made + i].ext, &v[i]);
            fp_hello_view_free(&v[i]);
            if (rec == NULL) ok = 0;
            out[made + i] = rec;
        }
        if (!ok) {
            for (i = 0; i < made + g; i++) Py_XDECREF(out[i]);
            PyMem_Free(v);
            return -1;
        }
        made += g;
    }
    PyMem_Free(v);
    return 0;
}

/* A live merge numbers a record on its consumer's thread, before anyone else holds it. */
int fp_hello_record_set_id(PyObject *rec, uint64_t id)
{
    PyObject *v = PyLong_FromUnsignedLongLong(id);
    if (v == NULL) return -1;
    PyObject *old = PyStructSequence_GetItem(rec, HF_stream_id);
    PyStructSequence_SetItem(rec, HF_stream_id, v);
    Py_XDECREF(old);
    return 0;
}

typedef struct {
    const uint8_t *body;
    uint32_t len;
} first_hello;

static int take_client_hello(void *ctx, const fp_tls_hs_msg *m)
{
    first_hello *h = ctx;
    if (m->type != 1) return 1; /* only a segment that starts with a ClientHello */
    h->body = m->body;
    h->len = m->len;
    return 1;
}

PyObject *fp_hello_record_packet(fp_state *st, const FpPacket *pkt)
{
    const fp_dissection *d = &pkt->d;
    if (!FP_HAS(d, FP_L_TLS)) Py_RETURN_NONE;
    const fp_span *s = &d->layer[FP_L_TLS];
    fp_tls_asm a;
    fp_tls_asm_init(&a, 0);
    first_hello h = {NULL, 0};
    fp_tls_asm_feed(&a, pkt->data + s->off, s->end - s->off, take_client_hello, &h);
    PyObject *rec = Py_None;
    fp_flow_packet fpk;
    if (h.body && fp_flow_packet_from(&fpk, pkt->data, d, pkt->ts_ns, pkt->wirelen, 0) == 0) {
        fp_hello_conn c;
        fp_flow f;
        memset(&c, 0, sizeof c);
        memset(&f, 0, sizeof f);
        c.transport = 't';
        c.hello[0] = (uint8_t *)h.body; /* borrowed: the message lies whole in the segment */
        c.hello_len[0] = h.len;
        c.hello_ns[0] = pkt->ts_ns;
        f.key = fpk.key;
        f.client_is_b = (uint8_t)fpk.swapped;
        rec = fp_hello_record_new(st, &f, &c);
    } else {
        Py_INCREF(rec);
    }
    fp_tls_asm_free(&a);
    return rec;
}

#define F_FIELD(name, doc) {#name, doc},
static PyStructSequence_Field hello_fields[NUM_HELLO_FIELDS + 1] = {HELLO_FIELDS(F_FIELD){NULL, NULL}};
static PyStructSequence_Desc hello_desc = {
    "fastpkt.ClientHello",
    "One TLS ClientHello (over TCP, reassembled, or QUIC, decrypted) with the server's answer\n"
    "when seen. Numbers (versions, ciphers, extensions, groups) are the wire values.",
    hello_fields,
    NUM_HELLO_FIELDS,
};

int fp_hellos_register(PyObject *m, fp_state *st)
{
    if (fp_add_struct_type(m, &hello_desc, &st->ClientHello_Type, "HELLO_FIELDS") < 0) return -1;
    return fp_add_view_method(st->ClientHello_Type);
}
