/* Test bridge for the TLS module (csrc/dissect/tls.c, tls_fingerprint.c):
 *   _fptest.tls_hello(data, quic=False, proto=None) -> dict
 *   _fptest.tls_messages(chunks, quic=False, max_message=65536, ccs='auto')
 * The first runs the assembler, the hello parser and the fingerprints with the GIL
 * released and returns every parsed field; the second exposes the assembler alone. */
#include "fptest.h"

#include "../../dissect/tls.h"

/* ---- tls_hello ------------------------------------------------------------------- */

typedef struct {
    int found;             /* a ClientHello (1) or ServerHello (2) was delivered */
    uint8_t type;
    uint8_t *body;         /* malloc'd copy of the message body */
    uint32_t len;
    uint32_t wire_len;     /* the header's body length (differs when compact) */
    uint32_t stream_anomalies; /* the streaming parser's FP_TLS_HELLO_A bits */
    int compact, partial;
    int rc;                /* parser return code */
    fp_tls_hello hello;
    char proto;
    char *ja3;             /* malloc'd, NUL-terminated */
    char ja3_md5[33];
    char ja4[FP_JA4_SIZE];
    char *ja4_r;
    int nomem;
} hello_job;

static int on_hello_message(void *ctx, const fp_tls_hs_msg *m)
{
    hello_job *job = ctx;
    if (m->type != 1 && m->type != 2) return 0;
    job->found = 1;
    job->type = m->type;
    job->len = m->len;
    job->wire_len = m->wire_len;
    job->compact = m->compact;
    job->partial = m->partial;
    job->stream_anomalies = m->anomalies;
    job->body = malloc(m->len ? m->len : 1);
    if (job->body == NULL) {
        job->nomem = 1;
        return 1;
    }
    memcpy(job->body, m->body, m->len);
    return 1;
}

/* Everything that runs without the GIL. */
static void hello_job_run(hello_job *job, fp_tls_asm *a, const uint8_t *data, size_t len)
{
    fp_tls_asm_feed(a, data, len, on_hello_message, job);
    if (!job->found) fp_tls_asm_finish(a, on_hello_message, job);
    if (!job->found || job->nomem) return;
    if (job->type == 1) {
        job->rc = job->compact ? fp_tls_client_hello_parse_compact(job->body, job->len, job->stream_anomalies,
                                                                   &job->hello)
                               : fp_tls_client_hello_parse(job->body, job->len, &job->hello);
    } else
        job->rc = fp_tls_server_hello_parse(job->body, job->len, &job->hello);
    job->ja3 = fp_tls_ja3_new(&job->hello, job->ja3_md5);
    if (job->ja3 == NULL) job->nomem = 1;
    if (job->type == 1) {
        job->ja4_r = fp_tls_ja4_new(&job->hello, job->proto, job->ja4);
        if (job->ja4_r == NULL) job->nomem = 1;
    }
}

static int set_item(PyObject *d, const char *key, PyObject *value)
{
    if (value == NULL) return -1;
    int rc = PyDict_SetItemString(d, key, value);
    Py_DECREF(value);
    return rc;
}

static PyObject *span_bytes(const fp_tls_hello *h, fp_tls_span s)
{
    return PyBytes_FromStringAndSize((const char *)h->body + s.off, (Py_ssize_t)s.len);
}

/* A list of the first min(n, cap) values of a uint16_t (wide) or uint8_t array. */
static PyObject *int_list(const void *v, uint32_t n, uint32_t cap, int wide)
{
    if (n > cap) n = cap;
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (uint32_t i = 0; l != NULL && i < n; i++) {
        PyObject *x = PyLong_FromLong(wide ? ((const uint16_t *)v)[i] : ((const uint8_t *)v)[i]);
        if (x == NULL) Py_CLEAR(l);
        else PyList_SET_ITEM(l, (Py_ssize_t)i, x);
    }
    return l;
}

/* The list when the extension was present, else None. */
static PyObject *opt(int present, PyObject *value)
{
    if (present || value == NULL) return value;
    Py_DECREF(value);
    Py_RETURN_NONE;
}

static PyObject *span_list(const fp_tls_hello *h, const fp_tls_span *s, uint32_t n, int text)
{
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (uint32_t i = 0; l != NULL && i < n; i++) {
        PyObject *x = text ? PyUnicode_DecodeLatin1((const char *)h->body + s[i].off,
                                                    (Py_ssize_t)s[i].len, NULL)
                           : span_bytes(h, s[i]);
        if (x == NULL) Py_CLEAR(l);
        else PyList_SET_ITEM(l, (Py_ssize_t)i, x);
    }
    return l;
}

static PyObject *name_tuple(uint32_t bits, const char *const *names, int count)
{
    PyObject *t = PyTuple_New(__builtin_popcount(bits & ((1u << count) - 1)));
    Py_ssize_t k = 0;
    for (int b = 0; t != NULL && b < count; b++) {
        if (!(bits & (1u << b))) continue;
        PyObject *s = PyUnicode_FromString(names[b]);
        if (s == NULL) Py_CLEAR(t);
        else PyTuple_SET_ITEM(t, k++, s);
    }
    return t;
}

static const char *const grease_names[] = {"cipher", "extension", "group", "version",
                                           "signature_algorithm", "key_share", "alpn", "psk_mode"};

static int hello_fields(PyObject *d, const hello_job *job)
{
    const fp_tls_hello *h = &job->hello;
    PyObject *exts = PyList_New(0);
    if (exts == NULL) return -1;
    for (uint32_t i = 0; i < h->ext_count && i < FP_TLS_MAX_EXTENSIONS; i++) {
        PyObject *pair = Py_BuildValue("(iN)", h->exts[i].type, span_bytes(h, h->exts[i].data));
        if (pair == NULL || PyList_Append(exts, pair) < 0) {
            Py_XDECREF(pair);
            Py_DECREF(exts);
            return -1;
        }
        Py_DECREF(pair);
    }
    if (set_item(d, "extensions", exts) < 0 ||
        set_item(d, "error", PyUnicode_FromString(fp_tls_error_name(job->rc))) < 0 ||
        set_item(d, "error_code", PyLong_FromLong(job->rc)) < 0 ||
        set_item(d, "complete", PyBool_FromLong(h->complete)) < 0 ||
        set_item(d, "anomalies", name_tuple(h->anomalies, fp_tls_hello_anomaly_names,
                                            FP_TLS_HELLO_ANOM_COUNT)) < 0 ||
        set_item(d, "capped", PyLong_FromUnsignedLong(h->capped)) < 0 ||
        set_item(d, "grease", name_tuple(h->grease, grease_names, 8)) < 0 ||
        set_item(d, "legacy_version", PyLong_FromLong(h->legacy_version)) < 0 ||
        set_item(d, "random", span_bytes(h, h->random)) < 0 ||
        set_item(d, "session_id", span_bytes(h, h->session_id)) < 0 ||
        set_item(d, "ciphers", int_list(h->ciphers, h->cipher_count, FP_TLS_MAX_CIPHERS, 1)) < 0 ||
        set_item(d, "cipher_count", PyLong_FromUnsignedLong(h->cipher_count)) < 0 ||
        set_item(d, "compression_methods",
                 int_list(h->compression, h->compression_count, FP_TLS_MAX_COMPRESSION, 0)) < 0 ||
        set_item(d, "has_extensions", PyBool_FromLong(h->has_extensions)) < 0 ||
        set_item(d, "extension_count", PyLong_FromUnsignedLong(h->ext_count)) < 0 ||
        set_item(d, "server_names", opt(h->has_sni, span_list(h, h->sni, h->sni_count, 1))) < 0 ||
        set_item(d, "sni", h->sni_count ? PyUnicode_DecodeLatin1((const char *)h->body + h->sni[0].off,
                                                                 (Py_ssize_t)h->sni[0].len, NULL)
                                        : Py_NewRef(Py_None)) < 0 ||
        set_item(d, "alpn", opt(h->has_alpn, span_list(h, h->alpn, h->alpn_count, 0))) < 0 ||
        set_item(d, "supported_versions",
                 opt(h->has_supported_versions,
                     int_list(h->versions, h->version_count, FP_TLS_MAX_VERSIONS, 1))) < 0 ||
        set_item(d, "supported_groups",
                 opt(h->has_groups, int_list(h->groups, h->group_count, FP_TLS_MAX_GROUPS, 1))) < 0 ||
        set_item(d, "signature_algorithms",
                 opt(h->has_sigalgs, int_list(h->sigalgs, h->sigalg_count, FP_TLS_MAX_SIGALGS, 1))) < 0 ||
        set_item(d, "key_share_groups",
                 opt(h->has_key_share, int_list(h->key_share_groups, h->key_share_count,
                                                FP_TLS_MAX_KEY_SHARES, 1))) < 0 ||
        set_item(d, "psk_key_exchange_modes",
                 opt(h->has_psk_modes, int_list(h->psk_modes, h->psk_mode_count, FP_TLS_MAX_PSK_MODES, 0))) < 0 ||
        set_item(d, "ec_point_formats",
                 opt(h->has_point_formats, int_list(h->point_formats, h->point_format_count,
                                                   FP_TLS_MAX_POINT_FORMATS, 0))) < 0 ||
        set_item(d, "ech", PyBool_FromLong(h->has_ech)) < 0 ||
        set_item(d, "ech_type", h->ech_type >= 0 ? PyLong_FromLong(h->ech_type) : Py_NewRef(Py_None)) < 0 ||
        set_item(d, "quic_transport_parameters", PyBool_FromLong(h->has_quic_transport_params)) < 0)
        return -1;
    if (h->is_server) {
        if (set_item(d, "cipher", PyLong_FromLong(h->cipher)) < 0 ||
            set_item(d, "selected_version", PyLong_FromLong(h->selected_version)) < 0 ||
            set_item(d, "is_hrr", PyBool_FromLong(h->is_hrr)) < 0 ||
            set_item(d, "ja3s", PyUnicode_FromString(job->ja3)) < 0 ||
            set_item(d, "ja3s_hash", PyUnicode_FromString(job->ja3_md5)) < 0)
            return -1;
        return 0;
    }
    if (set_item(d, "ja3", PyUnicode_FromString(job->ja3)) < 0 ||
        set_item(d, "ja3_hash", PyUnicode_FromString(job->ja3_md5)) < 0 ||
        set_item(d, "ja4", PyUnicode_FromString(job->ja4)) < 0 ||
        set_item(d, "ja4_r", PyUnicode_FromString(job->ja4_r)) < 0)
        return -1;
    return 0;
}

PyDoc_STRVAR(tls_hello_doc,
"tls_hello(data, quic=False, proto=None, hello_fields=0) -> dict\n--\n\n"
"Test bridge: the first ClientHello or ServerHello in `data` -- TLS records (a stream\n"
"direction's bytes starting with a handshake record) or, when `quic` is true or the data\n"
"does not start like a record, bare handshake messages (a QUIC CRYPTO stream) -- parsed\n"
"in C with the GIL released. Returns every parsed field plus ja3/ja3_hash/ja4/ja4_r\n"
"(ClientHello; JA4 protocol `proto` 't'/'q'/'d', default 'q' when quic else 't') or\n"
"ja3s/ja3s_hash (ServerHello). handshake_type is None when no hello was complete.\n"
"hello_fields > 0 streams a ClientHello through the streaming parser with that cap (any\n"
"length; a hello cut by the end of `data` comes out partial): 'compact', 'partial' and\n"
"'hello_size' (the header's body length) tell how it was read.");

static PyObject *tls_hello(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *kwlist[] = {"data", "quic", "proto", "hello_fields", NULL};
    Py_buffer buf;
    int quic = 0;
    const char *proto = NULL;
    unsigned long fields = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*|pzk:tls_hello", kwlist, &buf, &quic, &proto, &fields))
        return NULL;
    if (fields > UINT32_MAX) {
        PyBuffer_Release(&buf);
        return PyErr_Format(PyExc_ValueError, "hello_fields must be < 2**32, got %lu", fields);
    }
    hello_job job;
    memset(&job, 0, sizeof job);
    job.proto = quic ? 'q' : 't';
    if (proto != NULL) {
        if (strlen(proto) != 1 || strchr("tqd", proto[0]) == NULL) {
            PyBuffer_Release(&buf);
            return PyErr_Format(PyExc_ValueError, "proto must be 't', 'q' or 'd', got '%s'", proto);
        }
        job.proto = proto[0];
    }
    const uint8_t *data = buf.buf;
    size_t len = (size_t)buf.len;
    int records = !quic && len > 0 && fp_tls_record_plausible(data, len, 1);
    fp_tls_asm a;
    fp_tls_asm_init(&a, !records);
    a.hello_fields = (uint32_t)fields;
    Py_BEGIN_ALLOW_THREADS
    hello_job_run(&job, &a, data, len);
    Py_END_ALLOW_THREADS
    PyObject *d = NULL;
    if (job.nomem) {
        PyErr_NoMemory();
        goto done;
    }
    d = PyDict_New();
    if (d == NULL) goto done;
    if (set_item(d, "records", PyBool_FromLong(records)) < 0 ||
        set_item(d, "record_version", records && a.records ? PyLong_FromLong(a.first_record_version)
                                                           : Py_NewRef(Py_None)) < 0 ||
        set_item(d, "assembler_flags", name_tuple(a.flags, fp_tls_asm_flag_names,
                                                  FP_TLS_ASM_FLAG_COUNT)) < 0 ||
        set_item(d, "handshake_type", job.found ? PyLong_FromLong(job.type) : Py_NewRef(Py_None)) < 0 ||
        set_item(d, "compact", PyBool_FromLong(job.compact)) < 0 ||
        set_item(d, "partial", PyBool_FromLong(job.partial)) < 0 ||
        set_item(d, "hello_size", job.found ? PyLong_FromUnsignedLong(job.wire_len) : Py_NewRef(Py_None)) < 0 ||
        (job.found && hello_fields(d, &job) < 0))
        Py_CLEAR(d);
done:
    fp_tls_asm_free(&a);
    free(job.body);
    free(job.ja3);
    free(job.ja4_r);
    PyBuffer_Release(&buf);
    return d;
}

/* ---- tls_messages ---------------------------------------------------------------- */

typedef struct {
    PyObject *list;
    int error;
} messages_ctx;

static int on_message(void *ctx, const fp_tls_hs_msg *m)
{
    messages_ctx *mc = ctx;
    PyObject *t = Py_BuildValue("(iy#ii)", m->type, (const char *)m->body, (Py_ssize_t)m->len,
                                m->after_ccs, (int)m->index);
    if (t == NULL || PyList_Append(mc->list, t) < 0) {
        Py_XDECREF(t);
        mc->error = 1;
        return 1;
    }
    Py_DECREF(t);
    return 0;
}

PyDoc_STRVAR(tls_messages_doc,
"tls_messages(chunks, quic=False, max_message=65536, ccs='auto') -> dict\n--\n\n"
"Test bridge for the handshake assembler: feed `chunks` (bytes-like pieces of one\n"
"direction, in order; an int in the list reports lost bytes, a gap) and return\n"
"(`ccs`: what follows a ChangeCipherSpec, 'auto', 'stop' or 'continue')\n"
"{'messages': [(type, body, after_ccs, index)], 'flags': (...), 'records', 'consumed',\n"
"'pending', 'first_record_version'}.");

static PyObject *tls_messages(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *kwlist[] = {"chunks", "quic", "max_message", "ccs", NULL};
    PyObject *chunks;
    int quic = 0;
    const char *ccs = "auto";
    unsigned long max_message = FP_TLS_MAX_MESSAGE;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|pks:tls_messages", kwlist, &chunks, &quic,
                                     &max_message, &ccs))
        return NULL;
    uint8_t policy;
    if (strcmp(ccs, "auto") == 0) policy = FP_TLS_CCS_AUTO;
    else if (strcmp(ccs, "stop") == 0) policy = FP_TLS_CCS_STOP;
    else if (strcmp(ccs, "continue") == 0) policy = FP_TLS_CCS_CONTINUE;
    else return PyErr_Format(PyExc_ValueError, "ccs must be 'auto', 'stop' or 'continue', got '%s'", ccs);
    if (max_message > 0xffffffUL)
        return PyErr_Format(PyExc_ValueError, "max_message must be <= 16777215, got %lu", max_message);
    PyObject *seq = PySequence_Fast(chunks, "chunks must be a sequence");
    if (seq == NULL) return NULL;
    messages_ctx mc = {PyList_New(0), 0};
    fp_tls_asm a;
    fp_tls_asm_init(&a, quic);
    a.max_message = (uint32_t)max_message;
    a.ccs_policy = policy;
    PyObject *result = NULL;
    if (mc.list == NULL) goto done;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (PyLong_Check(item)) {
            fp_tls_asm_gap(&a);
            continue;
        }
        Py_buffer b;
        if (PyObject_GetBuffer(item, &b, PyBUF_SIMPLE) < 0) goto done;
        fp_tls_asm_feed(&a, b.buf, (size_t)b.len, on_message, &mc);
        PyBuffer_Release(&b);
        if (mc.error) goto done;
    }
    result = Py_BuildValue("{s:O,s:N,s:I,s:K,s:I,s:I}", "messages", mc.list, "flags",
                           name_tuple(a.flags, fp_tls_asm_flag_names, FP_TLS_ASM_FLAG_COUNT),
                           "records", a.records, "consumed", (unsigned long long)a.consumed,
                           "pending", fp_tls_asm_pending(&a), "first_record_version",
                           (unsigned)a.first_record_version);
done:
    fp_tls_asm_free(&a);
    Py_XDECREF(mc.list);
    Py_DECREF(seq);
    return result;
}

static PyMethodDef tls_hello_functions[] = {
    {"tls_hello", (PyCFunction)(void (*)(void))tls_hello, METH_VARARGS | METH_KEYWORDS, tls_hello_doc},
    {"tls_messages", (PyCFunction)(void (*)(void))tls_messages, METH_VARARGS | METH_KEYWORDS,
     tls_messages_doc},
    {NULL, NULL, 0, NULL},
};

int fptest_add_tls_hello(PyObject *m) { return PyModule_AddFunctions(m, tls_hello_functions); }
