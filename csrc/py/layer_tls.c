/* The first TLS record of a TCP segment, with ClientHello details (csrc/dissect/tls.c). */
#include "layer.h"
#include "engine.h"
#include "../dissect/tls.h"

#include <string.h>

enum { TLS_TYPE, TLS_VERSION, TLS_LEN, TLS_HS_TYPE, TLS_IS_CH, TLS_HELLO_VERSION, TLS_SNI,
       TLS_HELLO_COMPLETE };

static PyObject *tls_get(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    fp_tls_info t;
    memset(&t, 0, sizeof t);
    int ok = fp_tls_parse(ldata(l), &l->pkt->d, &t) == 0;
    int which = (int)(intptr_t)closure;
    if (which == TLS_IS_CH) return PyBool_FromLong(ok && t.is_client_hello);
    if (which == TLS_HELLO_COMPLETE) return PyBool_FromLong(ok && t.hello_complete);
    if (!ok) Py_RETURN_NONE;
    switch (which) {
    case TLS_TYPE: return PyLong_FromLong(t.content_type);
    case TLS_VERSION: return PyLong_FromLong(t.record_version);
    case TLS_LEN: return PyLong_FromLong(t.record_length);
    case TLS_HS_TYPE:
        if (t.handshake_type < 0) Py_RETURN_NONE;
        return PyLong_FromLong(t.handshake_type);
    case TLS_HELLO_VERSION:
        if (t.handshake_type != 1 && t.handshake_type != 2) Py_RETURN_NONE;
        return PyLong_FromLong(t.hello_version);
    case TLS_SNI: {
        fp_slice s = t.sni;
        if (s.len == 0 || (uint64_t)s.off + s.len > l->pkt->caplen) Py_RETURN_NONE;
        return PyUnicode_DecodeASCII((const char *)ldata(l) + s.off, (Py_ssize_t)s.len, "replace");
    }
    default: Py_RETURN_NONE;
    }
}

static PyObject *tls_hello_get(PyObject *self, void *closure)
{
    (void)closure;
    fp_state *st = LAYER(self)->pkt->st;
    return fp_hello_record_packet(st, LAYER(self)->pkt);
}

static PyGetSetDef tls_getset[] = {
    {"type", tls_get, NULL, "Content type of the first record (22 handshake, 23 application data ...).",
     (void *)TLS_TYPE},
    {"version", tls_get, NULL, "Record-layer version (0x0301 ... 0x0303).", (void *)TLS_VERSION},
    {"len", tls_get, NULL, "Length of the first record.", (void *)TLS_LEN},
    {"handshake_type", tls_get, NULL, "First handshake message type (1 ClientHello ...), None if none.",
     (void *)TLS_HS_TYPE},
    {"is_client_hello", tls_get, NULL, "True if the first handshake message is a ClientHello.",
     (void *)TLS_IS_CH},
    {"hello_version", tls_get, NULL, "legacy_version of a Client/ServerHello, None otherwise.",
     (void *)TLS_HELLO_VERSION},
    {"sni", tls_get, NULL,
     "server_name of a ClientHello found in this segment (ASCII, errors replaced), None if absent.",
     (void *)TLS_SNI},
    {"hello_complete", tls_get, NULL, "True if the whole ClientHello is inside this segment.",
     (void *)TLS_HELLO_COMPLETE},
    {"hello", tls_hello_get, NULL,
     "The ClientHello parsed in full (a fastpkt.ClientHello: ciphers, extensions, ALPN, JA3, JA4 ...)\n"
     "when this segment holds all of it, else None. fastpkt.client_hellos() also finds hellos\n"
     "spread over segments and QUIC.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

LAYER_SPEC(tls, "TLS", "First TLS record in a TCP segment, with ClientHello details (SNI).",
           tls_getset, fp_layer_no_methods);

const fp_layer_def fp_layer_tls = {&tls_spec, FP_L_TLS,
                                   FP_NAMES("type", "version", "len", "handshake_type", "hello_version", "sni"),
                                   FP_NAMES("type", "#version", "len", "handshake_type", "sni"), NULL};
