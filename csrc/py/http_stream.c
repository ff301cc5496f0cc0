/* _fastpkt._http_parse: the HTTP/1.x stream parser (csrc/stream/http_stream.c) run with the
 * GIL released over one connection's two byte streams; fastpkt/http.py builds the message
 * objects from the raw tuples returned here. Text is decoded as Latin-1 (lossless, as
 * http.client does), bodies are copied into bytes. */
#include "pyfp.h"

#include "../stream/http_stream.h"

/* One non-negative integer of a gap pair. */
static int gap_number(PyObject *item, Py_ssize_t k, unsigned long long *v)
{
    PyObject *o = PySequence_GetItem(item, k);
    PyObject *idx = o ? PyNumber_Index(o) : NULL;
    Py_XDECREF(o);
    if (idx == NULL) return -1;
    *v = PyLong_AsUnsignedLongLong(idx);
    Py_DECREF(idx);
    return *v == (unsigned long long)-1 && PyErr_Occurred() ? -1 : 0;
}

/* A sequence of (offset, length) pairs -> a PyMem array (NULL when empty). */
static int gaps_from_python(PyObject *obj, size_t data_len, const char *which, fp_http_gap **out,
                            size_t *n)
{
    *out = NULL;
    *n = 0;
    PyObject *seq = PySequence_Fast(obj, "gaps must be a sequence of (offset, length) pairs");
    if (seq == NULL) return -1;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    if (count > 0 && (*out = PyMem_Calloc((size_t)count, sizeof **out)) == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        unsigned long long off, len;
        if (!PySequence_Check(item) || PySequence_Size(item) != 2) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s gaps must be (offset, length) pairs, got %R", which, item);
            goto fail;
        }
        if (gap_number(item, 0, &off) < 0 || gap_number(item, 1, &len) < 0) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError)) goto fail;
            PyErr_Clear();
            off = ULLONG_MAX;
        }
        if (off > data_len) {
            PyErr_Format(PyExc_ValueError,
                         "%s gap %R: offset must be within 0..%zu (the data length) and length >= 0",
                         which, item, data_len);
            goto fail;
        }
        (*out)[i] = (fp_http_gap){off, len};
    }
    *n = (size_t)count;
    Py_DECREF(seq);
    return 0;
fail:
    Py_DECREF(seq);
    PyMem_Free(*out);
    *out = NULL;
    return -1;
}

static PyObject *latin1(const uint8_t *p, size_t n)
{
    return PyUnicode_DecodeLatin1((const char *)p, (Py_ssize_t)n, NULL);
}

PyObject *fp_http_anomaly_tuple(uint32_t bits)
{
    PyObject *t = PyTuple_New(__builtin_popcount(bits));
    if (t == NULL) return NULL;
    Py_ssize_t k = 0;
    for (int b = 0; b < FP_HTTP_STREAM_ANOM_COUNT; b++) {
        if (!(bits & (1u << b))) continue;
        PyObject *s = PyUnicode_InternFromString(fp_http_stream_anomaly_names[b]);
        if (s == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, k++, s);
    }
    return t;
}

PyObject *fp_http_value_str(const uint8_t *data, const fp_http_header *h)
{
    uint8_t *buf = h->folded ? PyMem_Malloc(h->value.len ? h->value.len : 1) : NULL;
    if (h->folded && buf == NULL) return PyErr_NoMemory();
    size_t n;
    const uint8_t *value = fp_http_value(data, h, buf, h->value.len, &n);
    PyObject *s = latin1(value, n);
    PyMem_Free(buf);
    return s;
}

/* [(name, value), ...] */
static PyObject *field_list(const fp_http_stream_result *r, size_t first, size_t count, const uint8_t *data)
{
    PyObject *list = PyList_New((Py_ssize_t)count);
    if (list == NULL) return NULL;
    for (size_t k = 0; k < count; k++) {
        const fp_http_header *h = &r->headers[first + k];
        PyObject *value = fp_http_value_str(data, h);
        PyObject *pair = value ? Py_BuildValue("(NN)", latin1(data + h->name.off, h->name.len), value) : NULL;
        if (pair == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)k, pair);
    }
    return list;
}

/* (is_response, index, a, b, c, headers, trailers, body, body_complete, body_missing,
 *  framing, anomalies, start, end, peer) with (a, b, c) = (method, target, version) for a
 * request and (version, status, reason) for a response. */
static PyObject *message_tuple(const fp_http_stream_result *r, const fp_http_stream_msg *m,
                               const uint8_t *data)
{
    const uint8_t *body = m->body_decoded ? r->decoded : data;
    PyObject *a, *b, *c;
    if (m->is_response) {
        a = latin1(data + m->version.off, m->version.len);
        b = PyLong_FromLong(m->status);
        c = latin1(data + m->reason.off, m->reason.len);
    } else {
        a = latin1(data + m->method.off, m->method.len);
        b = latin1(data + m->target.off, m->target.len);
        c = latin1(data + m->version.off, m->version.len);
    }
    PyObject *peer = m->peer >= 0 ? PyLong_FromLongLong(m->peer) : Py_NewRef(Py_None);
    return Py_BuildValue(
        "(OINNNNNNOKsNnnN)", m->is_response ? Py_True : Py_False, (unsigned)m->index, a, b, c,
        field_list(r, m->header_first, m->header_count, data),
        field_list(r, m->trailer_first, m->trailer_count, data),
        PyBytes_FromStringAndSize(m->body.len ? (const char *)body + m->body.off : "", (Py_ssize_t)m->body.len),
        m->body_complete ? Py_True : Py_False, (unsigned long long)m->body_missing,
        fp_http_body_framing_names[m->framing], fp_http_anomaly_tuple(m->anomalies), (Py_ssize_t)m->start,
        (Py_ssize_t)m->end, peer);
}

static PyObject *direction_tuple(const fp_http_stream_dir *d)
{
    return Py_BuildValue("(snKN)", fp_http_stop_names[d->stop], (Py_ssize_t)d->parsed,
                         (unsigned long long)d->skipped, fp_http_anomaly_tuple(d->anomalies));
}

PyDoc_STRVAR(http_parse_doc,
             "_http_parse(client_data, server_data, client_gaps, server_gaps, client_closed, server_closed)\n"
             "--\n\n"
             "Parse the HTTP/1.x messages of one TCP connection (GIL released). Returns\n"
             "(messages, client_state, server_state): messages in stream order as tuples\n"
             "(is_response, index, method|version, target|status, version|reason, headers,\n"
             "trailers, body, body_complete, body_missing, framing, anomalies, start, end, peer)\n"
             "where peer is the list position of the paired message; states are\n"
             "(stop, parsed, skipped, anomalies). Use fastpkt.http.messages() instead.");

static PyObject *http_parse(PyObject *module, PyObject *args)
{
    (void)module;
    Py_buffer cbuf, sbuf;
    PyObject *cgaps_obj, *sgaps_obj, *result = NULL;
    int cclosed, sclosed;
    if (!PyArg_ParseTuple(args, "y*y*OOpp:_http_parse", &cbuf, &sbuf, &cgaps_obj, &sgaps_obj, &cclosed, &sclosed))
        return NULL;
    fp_http_stream_input in[2] = {
        {cbuf.buf, (size_t)cbuf.len, NULL, 0, cclosed},
        {sbuf.buf, (size_t)sbuf.len, NULL, 0, sclosed},
    };
    fp_http_gap *gaps[2] = {NULL, NULL};
    fp_http_stream_result r;
    memset(&r, 0, sizeof r);
    if (gaps_from_python(cgaps_obj, in[0].len, "client", &gaps[0], &in[0].n_gaps) < 0 ||
        gaps_from_python(sgaps_obj, in[1].len, "server", &gaps[1], &in[1].n_gaps) < 0)
        goto done;
    in[0].gaps = gaps[0];
    in[1].gaps = gaps[1];
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = fp_http_stream_parse(&in[0], &in[1], &r);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *list = PyList_New((Py_ssize_t)r.n_msgs);
    if (list == NULL) goto done;
    for (size_t i = 0; i < r.n_msgs; i++) {
        const fp_http_stream_msg *m = &r.msgs[i];
        PyObject *t = message_tuple(&r, m, m->is_response ? in[1].data : in[0].data);
        if (t == NULL) {
            Py_DECREF(list);
            goto done;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    result = Py_BuildValue("(NNN)", list, direction_tuple(&r.dir[0]), direction_tuple(&r.dir[1]));
done:
    fp_http_stream_result_free(&r);
    PyMem_Free(gaps[0]);
    PyMem_Free(gaps[1]);
    PyBuffer_Release(&cbuf);
    PyBuffer_Release(&sbuf);
    return result;
}

static PyMethodDef http_functions[] = {
    {"_http_parse", http_parse, METH_VARARGS, http_parse_doc},
    {NULL, NULL, 0, NULL},
};

int fp_http_register(PyObject *m, fp_state *st)
{
    (void)st;
    return PyModule_AddFunctions(m, http_functions);
}
