/* HTTP/1.x start line and headers found in one TCP segment (csrc/dissect/http.c). */
#include "layer.h"

int fp_layer_http_parse(const FpLayer *l, fp_http_message *m)
{
    return fp_http_parse(ldata(l), &l->pkt->d, m);
}

/* A span of the record as str (latin-1: never fails, one char per byte). */
static PyObject *span_str(const FpLayer *l, fp_http_span s)
{
    uint32_t caplen = l->pkt->caplen;
    if (s.off > caplen) s.off = caplen;
    if (s.len > caplen - s.off) s.len = caplen - s.off;
    return PyUnicode_DecodeLatin1((const char *)ldata(l) + s.off, (Py_ssize_t)s.len, NULL);
}

enum { HTTP_METHOD, HTTP_URI, HTTP_PATH, HTTP_VERSION, HTTP_STATUS, HTTP_REASON, HTTP_HOST,
       HTTP_IS_REQUEST, HTTP_COMPLETE, HTTP_BODY, HTTP_ANOMALIES };

static PyObject *http_get(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    fp_http_message m;
    const fp_http_start_line *sl = &m.start;
    int which = (int)(intptr_t)closure;
    int ok = fp_layer_http_parse(l, &m) == 0;
    switch (which) {
    case HTTP_IS_REQUEST: return PyBool_FromLong(ok && !sl->is_response);
    case HTTP_COMPLETE: return PyBool_FromLong(ok && m.headers_complete);
    case HTTP_ANOMALIES: return fp_http_anomaly_tuple(ok ? m.anomalies : 0);
    case HTTP_VERSION:
        if (!ok) return PyUnicode_FromString("");
        return span_str(l, sl->version);
    default: break;
    }
    if (!ok) {
        if (which == HTTP_BODY) return PyBytes_FromStringAndSize(NULL, 0);
        Py_RETURN_NONE;
    }
    switch (which) {
    case HTTP_METHOD:
        if (sl->is_response) Py_RETURN_NONE;
        return span_str(l, sl->method);
    case HTTP_URI:
        if (sl->is_response) Py_RETURN_NONE;
        return span_str(l, sl->target);
    case HTTP_PATH: {
        if (sl->is_response) Py_RETURN_NONE;
        fp_http_span s = sl->target;
        if ((uint64_t)s.off + s.len > l->pkt->caplen) return span_str(l, s);
        const uint8_t *p = ldata(l) + s.off;
        for (size_t i = 0; i < s.len; i++)
            if (p[i] == '?' || p[i] == '#') {
                s.len = i;
                break;
            }
        return span_str(l, s);
    }
    case HTTP_STATUS:
        if (!sl->is_response) Py_RETURN_NONE;
        return PyLong_FromLong(sl->status);
    case HTTP_REASON:
        if (!sl->is_response) Py_RETURN_NONE;
        return span_str(l, sl->reason);
    case HTTP_HOST: {
        long k = fp_http_find_field(ldata(l), m.headers, m.header_count, "host");
        if (k < 0) Py_RETURN_NONE;
        return fp_http_value_str(ldata(l), &m.headers[k]);
    }
    case HTTP_BODY: {
        uint32_t end = lspan(l)->end;
        if (!m.headers_complete || m.body_off > end) return PyBytes_FromStringAndSize(NULL, 0);
        return PyBytes_FromStringAndSize((const char *)ldata(l) + m.body_off,
                                         (Py_ssize_t)(end - m.body_off));
    }
    default: Py_RETURN_NONE;
    }
}

static PyObject *http_get_headers(PyObject *self, void *c)
{
    (void)c;
    const FpLayer *l = LAYER(self);
    fp_http_message m;
    PyObject *d = PyDict_New();
    if (d == NULL || fp_layer_http_parse(l, &m) != 0) return d;
    for (size_t i = 0; i < m.header_count; i++) {
        PyObject *raw = span_str(l, m.headers[i].name);
        PyObject *k = raw ? PyObject_CallMethod(raw, "lower", NULL) : NULL;
        Py_XDECREF(raw);
        PyObject *v = k ? fp_http_value_str(ldata(l), &m.headers[i]) : NULL;
        if (v == NULL) goto fail_kv;
        PyObject *old = PyDict_GetItemWithError(d, k);
        if (old == NULL && PyErr_Occurred()) goto fail_kv;
        if (old != NULL) {
            PyObject *joined = PyUnicode_FromFormat("%U, %U", old, v);
            Py_SETREF(v, joined);
            if (v == NULL) goto fail_kv;
        }
        if (PyDict_SetItem(d, k, v) < 0) goto fail_kv;
        Py_DECREF(k);
        Py_DECREF(v);
        continue;
    fail_kv:
        Py_XDECREF(k);
        Py_XDECREF(v);
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyGetSetDef http_getset[] = {
    {"is_request", http_get, NULL, "True for a request, False for a response.", (void *)HTTP_IS_REQUEST},
    {"method", http_get, NULL, "Request method ('GET', 'POST' ...), None for responses.",
     (void *)HTTP_METHOD},
    {"uri", http_get, NULL, "Request target as sent, None for responses.", (void *)HTTP_URI},
    {"path", http_get, NULL, "Request target without the query string, None for responses.",
     (void *)HTTP_PATH},
    {"version", http_get, NULL, "Protocol version, e.g. 'HTTP/1.1'.", (void *)HTTP_VERSION},
    {"status", http_get, NULL, "Response status code, None for requests.", (void *)HTTP_STATUS},
    {"reason", http_get, NULL, "Response reason phrase, None for requests.", (void *)HTTP_REASON},
    {"headers", http_get_headers, NULL,
     "Headers in this segment: lower-case names, repeated headers joined by ', '.", NULL},
    {"host", http_get, NULL, "Value of the Host header, None if absent.", (void *)HTTP_HOST},
    {"headers_complete", http_get, NULL, "True if the blank line ending the headers is in this segment.",
     (void *)HTTP_COMPLETE},
    {"body", http_get, NULL, "Bytes after the headers within this segment (b'' if none).",
     (void *)HTTP_BODY},
    {"anomalies", http_get, NULL,
     "What was wrong with the head in this segment, as for fp.http messages (e.g. 'too_many_headers').",
     (void *)HTTP_ANOMALIES},
    {NULL, NULL, NULL, NULL, NULL},
};

LAYER_SPEC(http, "HTTP", "HTTP/1.x start line and headers found in one TCP segment.", http_getset,
           fp_layer_no_methods);

const fp_layer_def fp_layer_http = {&http_spec, FP_L_HTTP,
                                    FP_NAMES("method", "uri", "version", "status", "reason", "headers", "body"),
                                    FP_NAMES("method", "uri", "status", "reason", "host"), NULL};
