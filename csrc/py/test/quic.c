/* _fptest.quic_initial / quic_crypto_streams / quic_frames / quic_crypto_collect: a small
 * bridge to the QUIC Initial decryptor (csrc/dissect/quic.c) for tests and exploration.
 * The crypto runs with the GIL released; results come back as plain dicts. */
#include "fptest.h"

#include "../../dissect/quic.h"

/* bytes.hex() of a short key or secret. */
static PyObject *hex_str(const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char buf[2 * 64];
    if (n > 64) return NULL;
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = digits[p[i] >> 4];
        buf[2 * i + 1] = digits[p[i] & 15];
    }
    return PyUnicode_FromStringAndSize(buf, (Py_ssize_t)(2 * n));
}

static PyObject *bytes_of(const uint8_t *p, size_t n)
{
    return PyBytes_FromStringAndSize(n ? (const char *)p : "", (Py_ssize_t)n);
}

static PyObject *name_list(uint32_t bits, const char *const *names, int count)
{
    PyObject *list = PyList_New(0);
    if (list == NULL) return NULL;
    for (int i = 0; i < count; i++) {
        if (!((bits >> i) & 1u)) continue;
        PyObject *s = PyUnicode_FromString(names[i]);
        if (s == NULL || PyList_Append(list, s) < 0) {
            Py_XDECREF(s);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(s);
    }
    return list;
}

static PyObject *dir_keys_dict(const fp_quic_dir_keys *k)
{
    return Py_BuildValue("{s:N,s:N,s:N,s:N}", "secret", hex_str(k->secret, 32), "key",
                         hex_str(k->key, 16), "iv", hex_str(k->iv, 12), "hp", hex_str(k->hp, 16));
}

/* {version: {'initial_secret', 'client': {...}, 'server': {...}}} for each derived slot. */
static PyObject *cache_keys_dict(const fp_quic_keys_cache *c)
{
    PyObject *d = PyDict_New();
    if (d == NULL) return NULL;
    for (int s = 0; s < 2; s++) {
        if (!c->slot_valid[s]) continue;
        const fp_quic_initial_keys *k = &c->slot[s];
        PyObject *v = Py_BuildValue("{s:N,s:N,s:N}", "initial_secret", hex_str(k->initial_secret, 32),
                                    "client", dir_keys_dict(&k->client), "server",
                                    dir_keys_dict(&k->server));
        PyObject *key = PyLong_FromUnsignedLong(k->version);
        if (v == NULL || key == NULL || PyDict_SetItem(d, key, v) < 0) {
            Py_XDECREF(v);
            Py_XDECREF(key);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
        Py_DECREF(key);
    }
    return d;
}

static PyObject *frag_list(const fp_quic_crypto_frag *frags, int n)
{
    PyObject *list = PyList_New(n);
    if (list == NULL) return NULL;
    for (int i = 0; i < n; i++) {
        PyObject *t = Py_BuildValue("(KN)", (unsigned long long)frags[i].offset,
                                    bytes_of(frags[i].data, frags[i].length));
        if (t == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, t);
    }
    return list;
}

static PyObject *packet_dict(const fp_quic_packet *pk, const uint8_t *dgram)
{
    int ok = pk->status == FP_QUIC_OK;
    PyObject *pn = ok ? PyLong_FromUnsignedLongLong(pk->pn) : Py_NewRef(Py_None);
    PyObject *close_error = (pk->frames & FP_QUIC_FRAME_CLOSE)
                                ? PyLong_FromUnsignedLongLong(pk->close_error)
                                : Py_NewRef(Py_None);
    PyObject *close_ft = (pk->frames & FP_QUIC_FRAME_CLOSE)
                             ? PyLong_FromUnsignedLongLong(pk->close_frame_type)
                             : Py_NewRef(Py_None);
    return Py_BuildValue(
        "{s:s,s:s,s:k,s:N,s:N,s:I,s:I,s:N,s:N,s:i,s:N,s:N,s:N,s:N,s:N}", "type",
        fp_quic_packet_type_names[pk->type], "status", fp_quic_status_names[pk->status], "version",
        (unsigned long)pk->version, "dcid", bytes_of(pk->dcid, pk->dcid_len), "scid",
        bytes_of(pk->scid, pk->scid_len), "offset", (unsigned)pk->offset, "size",
        (unsigned)pk->size, "token", bytes_of(dgram + pk->token_off, pk->token_len), "pn", pn,
        "pn_len", (int)pk->pn_len, "header",
        ok ? bytes_of(pk->header, pk->header_len) : Py_NewRef(Py_None), "payload",
        ok ? bytes_of(pk->payload, pk->payload_len) : Py_NewRef(Py_None), "frames",
        name_list(pk->frames, fp_quic_frame_names, FP_QUIC_FRAME_BITS), "close_error", close_error,
        "close_frame_type", close_ft);
}

static int dcid_arg(PyObject *obj, fp_quic_keys_cache *cache)
{
    if (obj == NULL || obj == Py_None) return 0;
    Py_buffer b;
    if (PyObject_GetBuffer(obj, &b, PyBUF_SIMPLE) < 0) return -1;
    int rc = fp_quic_cache_set_dcid(cache, b.buf, (size_t)b.len);
    if (rc < 0)
        PyErr_Format(PyExc_ValueError, "dcid must be at most %d bytes, got %zd", FP_QUIC_MAX_CID,
                     b.len);
    PyBuffer_Release(&b);
    return rc;
}

#define BRIDGE_MAX_FRAGS 512

PyDoc_STRVAR(quic_initial_doc,
             "quic_initial(udp_payload, from_client=True, dcid=None) -> dict\n"
             "--\n\n"
             "Parse one UDP datagram's QUIC packets and decrypt its Initials (RFC 9001, RFC 9369).\n"
             "`dcid` is the client's original Destination Connection ID (needed for server\n"
             "datagrams; client datagrams key on their own). Returns version, dcid, scid (first\n"
             "packet), packet_numbers, crypto [(offset, bytes)], flags, packets (per-packet\n"
             "dicts with the unprotected header and payload) and keys {version: {...hex...}}.");

static PyObject *quic_initial(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *kwlist[] = {"udp_payload", "from_client", "dcid", NULL};
    Py_buffer buf;
    int from_client = 1;
    PyObject *dcid_obj = Py_None, *result = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*|pO:quic_initial", kwlist, &buf,
                                     &from_client, &dcid_obj))
        return NULL;
    fp_quic_keys_cache cache;
    fp_quic_cache_init(&cache);
    fp_quic_info *info = PyMem_Calloc(1, sizeof *info);
    fp_quic_crypto_frag *frags = PyMem_Calloc(BRIDGE_MAX_FRAGS, sizeof *frags);
    uint8_t *scratch = PyMem_Malloc((size_t)buf.len + 1);
    if (info == NULL || frags == NULL || scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (buf.len > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "udp_payload is too long");
        goto done;
    }
    if (dcid_arg(dcid_obj, &cache) < 0) goto done;
    int n;
    Py_BEGIN_ALLOW_THREADS
    n = fp_quic_decrypt_datagram(buf.buf, (uint32_t)buf.len, from_client, &cache, scratch,
                                 (size_t)buf.len + 1, frags, BRIDGE_MAX_FRAGS, info);
    Py_END_ALLOW_THREADS
    int described = info->packet_count < FP_QUIC_MAX_PACKETS ? info->packet_count : FP_QUIC_MAX_PACKETS;
    PyObject *packets = PyList_New(described);
    PyObject *pns = PyList_New(0);
    if (packets == NULL || pns == NULL) {
        Py_XDECREF(packets);
        Py_XDECREF(pns);
        goto done;
    }
    for (int i = 0; i < described; i++) {
        const fp_quic_packet *pk = &info->packets[i];
        PyObject *d = packet_dict(pk, buf.buf);
        if (d == NULL) goto fail_lists;
        PyList_SET_ITEM(packets, i, d);
        if (pk->status == FP_QUIC_OK) {
            PyObject *pn = PyLong_FromUnsignedLongLong(pk->pn);
            if (pn == NULL || PyList_Append(pns, pn) < 0) {
                Py_XDECREF(pn);
                goto fail_lists;
            }
            Py_DECREF(pn);
        }
    }
    const fp_quic_packet *p0 = described ? &info->packets[0] : NULL;
    int p0_long = p0 && p0->type != FP_QUIC_PKT_SHORT;
    result = Py_BuildValue(
        "{s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:i,s:i,s:i,s:i,s:i,s:I,s:N}", "version",
        p0_long ? PyLong_FromUnsignedLong(p0->version) : Py_NewRef(Py_None), "dcid",
        p0_long ? bytes_of(p0->dcid, p0->dcid_len) : Py_NewRef(Py_None), "scid",
        p0_long ? bytes_of(p0->scid, p0->scid_len) : Py_NewRef(Py_None), "packet_numbers", pns,
        "crypto", frag_list(frags, n), "flags",
        name_list(info->flags, fp_quic_flag_names, FP_QUIC_F_COUNT_BITS), "packets", packets,
        "keys", cache_keys_dict(&cache), "packet_count", info->packet_count, "initial_count",
        info->initial_count, "decrypted_count", info->decrypted_count, "frag_count",
        info->frag_count, "frags_dropped", info->frags_dropped, "trailing",
        (unsigned)info->trailing, "cache_dcid",
        cache.have_dcid ? bytes_of(cache.dcid, cache.dcid_len) : Py_NewRef(Py_None));
    goto done;
fail_lists:
    Py_DECREF(packets);
    Py_DECREF(pns);
done:
    PyMem_Free(info);
    PyMem_Free(frags);
    PyMem_Free(scratch);
    PyBuffer_Release(&buf);
    return result;
}

PyDoc_STRVAR(quic_crypto_streams_doc,
             "quic_crypto_streams(datagrams, dcid=None, cap=65536) -> dict\n"
             "--\n\n"
             "Feed one connection's UDP payloads, in capture order, as (payload, from_client)\n"
             "pairs through one key cache and two CRYPTO stream collectors (GIL released).\n"
             "Returns the contiguous 'client'/'server' CRYPTO bytes, the first handshake message\n"
             "of each ('client_message', 'server_message') with the datagram index at which it\n"
             "became complete ('client_hello_index', 'server_hello_index'), per-datagram\n"
             "decrypted Initial counts and flags, and the collectors' counters.");

typedef struct {
    int decrypted, frags;
    uint32_t flags;
} dgram_result;

static PyObject *ranges_list(const fp_quic_crypto_stream *s)
{
    PyObject *list = PyList_New((Py_ssize_t)s->range_count);
    if (list == NULL) return NULL;
    for (uint32_t i = 0; i < s->range_count; i++) {
        PyObject *t = Py_BuildValue("(II)", (unsigned)s->ranges[i].start, (unsigned)s->ranges[i].end);
        if (t == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    return list;
}

static PyObject *message_or_none(const fp_quic_crypto_stream *s)
{
    uint8_t type = 0;
    uint32_t n = fp_quic_crypto_message_len(s, &type);
    return n ? bytes_of(s->buf, n) : Py_NewRef(Py_None);
}

static PyObject *index_or_none(Py_ssize_t i) { return i >= 0 ? PyLong_FromSsize_t(i) : Py_NewRef(Py_None); }

static PyObject *quic_crypto_streams(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *kwlist[] = {"datagrams", "dcid", "cap", NULL};
    PyObject *seq_obj, *dcid_obj = Py_None, *result = NULL, *seq = NULL;
    unsigned int cap = FP_QUIC_CRYPTO_CAP;
    Py_buffer *bufs = NULL;
    int *dirs = NULL;
    dgram_result *res = NULL;
    uint8_t *scratch = NULL, *sbuf[2] = {NULL, NULL};
    Py_ssize_t n = 0, held = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OI:quic_crypto_streams", kwlist, &seq_obj,
                                     &dcid_obj, &cap))
        return NULL;
    fp_quic_keys_cache cache;
    fp_quic_cache_init(&cache);
    if (dcid_arg(dcid_obj, &cache) < 0) return NULL;
    seq = PySequence_Fast(seq_obj, "datagrams must be a sequence of (payload, from_client) pairs");
    if (seq == NULL) return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    bufs = PyMem_Calloc((size_t)n + 1, sizeof *bufs);
    dirs = PyMem_Calloc((size_t)n + 1, sizeof *dirs);
    res = PyMem_Calloc((size_t)n + 1, sizeof *res);
    sbuf[0] = PyMem_Malloc(cap ? cap : 1);
    sbuf[1] = PyMem_Malloc(cap ? cap : 1);
    if (bufs == NULL || dirs == NULL || res == NULL || sbuf[0] == NULL || sbuf[1] == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t longest = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i), *payload, *dir;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            PyErr_Format(PyExc_TypeError, "datagram %zd must be a (payload, from_client) tuple, got %R", i, item);
            goto done;
        }
        payload = PyTuple_GET_ITEM(item, 0);
        dir = PyTuple_GET_ITEM(item, 1);
        if ((dirs[i] = PyObject_IsTrue(dir)) < 0) goto done;
        if (PyObject_GetBuffer(payload, &bufs[i], PyBUF_SIMPLE) < 0) goto done;
        held++;
        if (bufs[i].len > UINT32_MAX) {
            PyErr_Format(PyExc_ValueError, "datagram %zd is too long", i);
            goto done;
        }
        if ((size_t)bufs[i].len > longest) longest = (size_t)bufs[i].len;
    }
    if ((scratch = PyMem_Malloc(longest)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    fp_quic_crypto_stream streams[2];
    fp_quic_crypto_init(&streams[0], sbuf[0], cap);
    fp_quic_crypto_init(&streams[1], sbuf[1], cap);
    Py_ssize_t hello_at[2] = {-1, -1};
    uint32_t all_flags = 0;
    int decrypted = 0;
    fp_quic_info *info = PyMem_Malloc(sizeof *info);
    if (info == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int k = dirs[i] ? 0 : 1;
        res[i].frags = fp_quic_feed(&cache, streams, bufs[i].buf, (uint32_t)bufs[i].len, dirs[i],
                                    scratch, longest, info);
        res[i].decrypted = info->decrypted_count;
        res[i].flags = info->flags;
        all_flags |= info->flags;
        decrypted += info->decrypted_count;
        if (hello_at[k] < 0 && fp_quic_crypto_message_len(&streams[k], NULL) > 0) hello_at[k] = i;
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(info);
    PyObject *per = PyList_New(n);
    if (per == NULL) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = Py_BuildValue("(iiN)", res[i].decrypted, res[i].frags,
                                    name_list(res[i].flags, fp_quic_flag_names, FP_QUIC_F_COUNT_BITS));
        if (t == NULL) {
            Py_DECREF(per);
            goto done;
        }
        PyList_SET_ITEM(per, i, t);
    }
    result = Py_BuildValue(
        "{s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:i,s:N,s:N,s:I,s:N,s:(KK),s:(KK),s:(II),s:N,s:N}", "client",
        bytes_of(streams[0].buf, streams[0].contiguous), "server",
        bytes_of(streams[1].buf, streams[1].contiguous), "client_message",
        message_or_none(&streams[0]), "server_message", message_or_none(&streams[1]),
        "client_hello_index", index_or_none(hello_at[0]), "server_hello_index",
        index_or_none(hello_at[1]), "datagrams", per, "decrypted", decrypted, "flags",
        name_list(all_flags, fp_quic_flag_names, FP_QUIC_F_COUNT_BITS), "initial_dcid",
        cache.have_dcid ? bytes_of(cache.dcid, cache.dcid_len) : Py_NewRef(Py_None), "rekeys",
        (unsigned)cache.rekeys, "keys", cache_keys_dict(&cache), "inconsistent_bytes",
        (unsigned long long)streams[0].inconsistent_bytes,
        (unsigned long long)streams[1].inconsistent_bytes, "bytes_over_cap",
        (unsigned long long)streams[0].bytes_over_cap, (unsigned long long)streams[1].bytes_over_cap,
        "ranges_dropped", (unsigned)streams[0].ranges_dropped, (unsigned)streams[1].ranges_dropped,
        "client_ranges", ranges_list(&streams[0]), "server_ranges", ranges_list(&streams[1]));
done:
    for (Py_ssize_t i = 0; i < held; i++) PyBuffer_Release(&bufs[i]);
    PyMem_Free(bufs);
    PyMem_Free(dirs);
    PyMem_Free(res);
    PyMem_Free(scratch);
    PyMem_Free(sbuf[0]);
    PyMem_Free(sbuf[1]);
    Py_XDECREF(seq);
    return result;
}

PyDoc_STRVAR(quic_frames_doc,
             "quic_frames(payload) -> dict\n"
             "--\n\n"
             "Parse the frames of a decrypted Initial payload: {'frames': [names], 'crypto':\n"
             "[(offset, bytes)], 'found': n, 'close_error', 'close_frame_type'}.");

static PyObject *quic_frames(PyObject *module, PyObject *arg)
{
    (void)module;
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
    fp_quic_crypto_frag frags[64];
    int found = 0;
    uint64_t code = 0, ftype = 0;
    uint32_t bits = fp_quic_parse_frames(b.buf, (size_t)b.len, 0, frags, 64, &found, &code, &ftype);
    int shown = found < 64 ? found : 64;
    PyObject *r = Py_BuildValue(
        "{s:N,s:N,s:i,s:N,s:N}", "frames", name_list(bits, fp_quic_frame_names, FP_QUIC_FRAME_BITS),
        "crypto", frag_list(frags, shown), "found", found, "close_error",
        (bits & FP_QUIC_FRAME_CLOSE) ? PyLong_FromUnsignedLongLong(code) : Py_NewRef(Py_None),
        "close_frame_type",
        (bits & FP_QUIC_FRAME_CLOSE) ? PyLong_FromUnsignedLongLong(ftype) : Py_NewRef(Py_None));
    PyBuffer_Release(&b);
    return r;
}

PyDoc_STRVAR(quic_crypto_collect_doc,
             "quic_crypto_collect(fragments, cap=65536) -> dict\n"
             "--\n\n"
             "Run the CRYPTO stream collector over (offset, bytes) fragments in the given order:\n"
             "{'data': contiguous bytes, 'contiguous', 'ranges', 'message' (first handshake\n"
             "message or None), 'inconsistent_bytes', 'bytes_over_cap', 'ranges_dropped'}.");

static PyObject *quic_crypto_collect(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *kwlist[] = {"fragments", "cap", NULL};
    PyObject *frags_obj, *seq, *result = NULL;
    unsigned int cap = FP_QUIC_CRYPTO_CAP;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|I:quic_crypto_collect", kwlist, &frags_obj,
                                     &cap))
        return NULL;
    seq = PySequence_Fast(frags_obj, "fragments must be a sequence of (offset, bytes) pairs");
    if (seq == NULL) return NULL;
    uint8_t *buf = PyMem_Malloc(cap ? cap : 1);
    if (buf == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    fp_quic_crypto_stream s;
    fp_quic_crypto_init(&s, buf, cap);
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        unsigned long long off;
        Py_buffer b;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            PyErr_Format(PyExc_TypeError, "fragment %zd must be an (offset, bytes) tuple", i);
            goto done;
        }
        off = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(item, 0));
        if (off == (unsigned long long)-1 && PyErr_Occurred()) goto done;
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(item, 1), &b, PyBUF_SIMPLE) < 0) goto done;
        if (b.len > UINT32_MAX) {
            PyBuffer_Release(&b);
            PyErr_SetString(PyExc_ValueError, "fragment too long");
            goto done;
        }
        fp_quic_crypto_add(&s, off, b.buf, (uint32_t)b.len);
        PyBuffer_Release(&b);
    }
    result = Py_BuildValue("{s:N,s:I,s:N,s:N,s:K,s:K,s:I}", "data", bytes_of(s.buf, s.contiguous),
                           "contiguous", (unsigned)s.contiguous, "ranges", ranges_list(&s),
                           "message", message_or_none(&s), "inconsistent_bytes",
                           (unsigned long long)s.inconsistent_bytes, "bytes_over_cap",
                           (unsigned long long)s.bytes_over_cap, "ranges_dropped",
                           (unsigned)s.ranges_dropped);
done:
    PyMem_Free(buf);
    Py_DECREF(seq);
    return result;
}

static PyMethodDef quic_functions[] = {
    {"quic_crypto_collect", (PyCFunction)(void (*)(void))quic_crypto_collect,
     METH_VARARGS | METH_KEYWORDS, quic_crypto_collect_doc},
    {"quic_initial", (PyCFunction)(void (*)(void))quic_initial, METH_VARARGS | METH_KEYWORDS,
     quic_initial_doc},
    {"quic_crypto_streams", (PyCFunction)(void (*)(void))quic_crypto_streams,
     METH_VARARGS | METH_KEYWORDS, quic_crypto_streams_doc},
    {"quic_frames", quic_frames, METH_O, quic_frames_doc},
    {NULL, NULL, 0, NULL},
};

int fptest_add_quic(PyObject *m) { return PyModule_AddFunctions(m, quic_functions); }
