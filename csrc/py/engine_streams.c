/* Streams: TCP reassembly (csrc/stream) attached to the flow engine's connections, and
 * the Stream objects handed to Python. The Flows object drives records through the flow
 * table with the GIL released; this file supplies the table's extension hooks (one
 * fp_reasm per TCP connection) and turns finished connections into Stream objects.
 * With on_data, in-order data is also queued as chunks (copied into an arena) and handed
 * to the callback between batches of records, with the GIL. */
#include "pyfp.h"
#include "engine.h"

#include <stdlib.h>

typedef struct {
    fp_reasm r;
    size_t held;         /* bytes counted in the budget's `held` while queued for output */
    uint64_t flow_id;
    fp_flow_key key;     /* chunks name their connection (the stream may be gone by then) */
    uint8_t client_is_b;
} stream_ext;

typedef struct {
    uint64_t flow_id, offset, gap;
    size_t at;
    uint32_t len;
    uint8_t dir, client_is_b;
    fp_flow_key key;
} chunk;

struct fp_stream_engine {
    fp_reasm_shared sh;
    int chunks_on;
    chunk *chunks;
    size_t nchunks, chunks_cap;
    uint8_t *arena;
    size_t arena_len, arena_cap;
    uint64_t streams, active, oom;
};

static void queue_chunk(void *ctx, void *user, int dir, uint64_t offset, uint64_t gap, const uint8_t *data,
                        uint32_t len)
{
    fp_stream_engine *e = ctx;
    if (!e->chunks_on) return;
    stream_ext *x = user;
    uint64_t id = x->flow_id;
    chunk *last = e->nchunks ? &e->chunks[e->nchunks - 1] : NULL;
    /* a gap then the data after it: one chunk */
    int merge = last && last->len == 0 && gap == 0 && last->flow_id == id && last->dir == dir && last->offset == offset;
    if (!merge && e->nchunks == e->chunks_cap) {
        size_t cap = e->chunks_cap ? e->chunks_cap * 2 : 256;
        chunk *c = fp_budget_realloc(e->sh.budget, FP_MEM_ON_DATA, e->chunks, cap * sizeof *c);
        if (c == NULL) {
            e->oom++;
            x->r.anomalies |= FP_REASM_OOM; /* drop mode: this stream's on_data lost bytes */
            return;
        }
        e->chunks = c;
        e->chunks_cap = cap;
    }
    if (e->arena_len + len > e->arena_cap) {
        size_t cap = e->arena_cap ? e->arena_cap : 1 << 16;
        while (cap < e->arena_len + len) cap *= 2;
        uint8_t *a = fp_budget_realloc(e->sh.budget, FP_MEM_ON_DATA, e->arena, cap);
        if (a == NULL) {
            e->oom++;
            x->r.anomalies |= FP_REASM_OOM;
            return;
        }
        e->arena = a;
        e->arena_cap = cap;
    }
    if (len) memcpy(e->arena + e->arena_len, data, len);
    e->arena_len += len;
    if (merge) {
        last->len = len;
        return;
    }
    chunk *c = &e->chunks[e->nchunks++];
    c->flow_id = id;
    c->offset = offset;
    c->gap = gap;
    c->at = e->arena_len - len;
    c->len = len;
    c->dir = (uint8_t)dir;
    c->key = x->key;
    c->client_is_b = x->client_is_b;
}

fp_stream_engine *fp_stream_engine_new(const fp_reasm_config *cfg, int chunks, fp_budget *budget)
{
    fp_stream_engine *e = fp_budget_calloc(budget, FP_MEM_ENGINE, 1, sizeof *e);
    if (e == NULL) return NULL;
    e->sh.cfg = *cfg;
    e->sh.budget = budget;
    e->chunks_on = chunks;
    if (chunks) {
        e->sh.sink = queue_chunk;
        e->sh.sink_ctx = e;
    }
    return e;
}

void fp_stream_engine_free(fp_stream_engine *e)
{
    if (e == NULL) return;
    fp_budget *b = e->sh.budget;
    fp_budget_free(b, FP_MEM_ON_DATA, e->chunks);
    fp_budget_free(b, FP_MEM_ON_DATA, e->arena);
    fp_budget_free(b, FP_MEM_ENGINE, e);
}

void fp_stream_engine_packet(fp_stream_engine *e, fp_flow *f, const fp_flow_packet *p, int forward)
{
    const fp_dissection *d = p->d;
    if (!p->is_tcp || !FP_HAS(d, FP_L_TCP)) return;
    stream_ext *x = f->ext;
    if (x == NULL) {
        if ((x = fp_budget_calloc(e->sh.budget, FP_MEM_REASSEMBLY, 1, sizeof *x)) == NULL) {
            e->oom++;
            f->flow_anomalies |= FP_FLOW_ANOM_ALLOC_FAILED;
            return;
        }
        x->flow_id = f->flow_id;
        x->key = f->key;
        x->client_is_b = f->client_is_b;
        x->r.user = x;
        f->ext = x;
        e->active++;
    }
    const fp_span *s = &d->layer[FP_L_TCP];
    uint32_t at = s->off + s->hlen;
    fp_reasm_segment(&e->sh, &x->r, forward ? 0 : 1, p->seq, p->ack, p->tcp_flags, p->data + at, s->end - at);
    if (x->r.anomalies & FP_REASM_OOM) f->flow_anomalies |= FP_FLOW_ANOM_ALLOC_FAILED;
}

int fp_stream_engine_emit(fp_stream_engine *e, fp_flow *f)
{
    stream_ext *x = f->ext;
    if (x == NULL) return 0;
    fp_reasm_finish(&e->sh, &x->r);
    e->streams++;
    return 1;
}

void fp_stream_engine_hold(fp_stream_engine *e, void *ext)
{
    stream_ext *x = ext;
    size_t n = fp_alloc_size(x);
    for (int di = 0; di < 2; di++) n += fp_reasm_stored_size(&x->r.dir[di]);
    x->held = n;
    fp_budget_hold(e->sh.budget, n);
}

void fp_stream_engine_ext_free(fp_stream_engine *e, void *ext)
{
    stream_ext *x = ext;
    fp_budget_unhold(e->sh.budget, x->held);
    fp_reasm_release(&e->sh, &x->r);
    fp_budget_free(e->sh.budget, FP_MEM_REASSEMBLY, x);
    e->active--;
}

size_t fp_stream_engine_pending(const fp_stream_engine *e) { return e->arena_len + e->nchunks * 64; }

/* (ip, port) of the client or server of a connection. */
static PyObject *key_endpoint(const fp_flow_key *k, int client_is_b, int client)
{
    int b = client ? client_is_b : !client_is_b;
    const uint8_t *a = b ? k->b : k->a;
    PyObject *ip = k->ip_version == 4 ? fp_ip4_str(a) : fp_ip6_str(a);
    return ip ? Py_BuildValue("(Ni)", ip, b ? k->pb : k->pa) : NULL;
}

static PyObject *endpoint(const fp_flow *f, int client) { return key_endpoint(&f->key, f->client_is_b, client); }

int fp_stream_engine_deliver(fp_stream_engine *e, fp_state *st, PyObject *on_data)
{
    int rc = 0;
    for (size_t i = 0; i < e->nchunks && rc == 0; i++) {
        const chunk *c = &e->chunks[i];
        PyObject *rec = PyStructSequence_New(st->StreamChunk_Type);
        if (rec == NULL) {
            rc = -1;
            break;
        }
        PyStructSequence_SetItem(rec, 0, PyLong_FromUnsignedLongLong(c->flow_id));
        PyStructSequence_SetItem(rec, 1, PyUnicode_FromString(c->dir ? "server" : "client"));
        PyStructSequence_SetItem(rec, 2, PyLong_FromUnsignedLongLong(c->offset));
        PyStructSequence_SetItem(rec, 3, PyBytes_FromStringAndSize((const char *)e->arena + c->at, c->len));
        PyStructSequence_SetItem(rec, 4, PyLong_FromUnsignedLongLong(c->gap));
        PyStructSequence_SetItem(rec, 5, key_endpoint(&c->key, c->client_is_b, 1));
        PyStructSequence_SetItem(rec, 6, key_endpoint(&c->key, c->client_is_b, 0));
        for (int j = 0; j < 7; j++)
            if (PyStructSequence_GetItem(rec, j) == NULL) rc = -1;
        PyObject *res = rc == 0 ? PyObject_CallOneArg(on_data, rec) : NULL;
        if (res == NULL) rc = -1;
        Py_XDECREF(res);
        Py_DECREF(rec);
    }
    e->nchunks = 0;
    e->arena_len = 0;
    return rc;
}

void fp_stream_engine_counts_of(const fp_stream_engine *e, fp_stream_engine_counts *c)
{
    c->reasm = e->sh.stats;
    c->streams = e->streams;
    c->active = e->active;
    c->oom = e->oom;
}

PyObject *fp_stream_engine_stats(const fp_stream_engine_counts *c)
{
    const fp_reasm_stats *s = &c->reasm;
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}", "streams", c->streams,
                         "active_streams", c->active, "delivered_bytes", s->delivered, "gaps", s->gaps,
                         "gap_bytes", s->gap_bytes, "forced_gaps", s->forced_gaps, "retransmitted_bytes",
                         s->retransmitted_bytes, "inconsistent_bytes", s->inconsistent_bytes,
                         "depth_cut_bytes", s->depth_cut_bytes, "after_fin_bytes", s->after_fin_bytes,
                         "out_of_window_bytes", s->out_of_window_bytes, "buffered_bytes", s->buffered,
                         "buffered_peak_bytes", s->buffered_peak, "dropped", s->oom + c->oom);
}

/* ---- Stream objects ----------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    fp_flow flow;          /* the connection's flow record (hints owned here) */
    PyObject *data[2];     /* bytes, client -> server and back */
    PyObject *gaps[2];     /* lists of Gap */
    uint64_t delivered[2], gap_bytes[2];
    uint8_t fin_reached[2], rst[2], started[2];
    uint32_t anomalies;    /* FP_REASM_* */
    uint32_t flow_anomalies; /* FP_FLOW_ANOM_EVICTED / ALLOC_FAILED of the connection */
    int stored;
} fp_stream_obj;

#define SO(o) ((fp_stream_obj *)(o))

static PyObject *gap_list(fp_state *st, const fp_reasm_dir *d)
{
    PyObject *l = PyList_New(d->ngaps);
    for (uint32_t i = 0; l && i < d->ngaps; i++) {
        PyObject *g = PyStructSequence_New(st->Gap_Type);
        if (g == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyStructSequence_SetItem(g, 0, PyLong_FromUnsignedLongLong(d->gap_list[i].offset));
        PyStructSequence_SetItem(g, 1, PyLong_FromUnsignedLongLong(d->gap_list[i].length));
        PyList_SET_ITEM(l, i, g);
        if (!PyStructSequence_GetItem(g, 0) || !PyStructSequence_GetItem(g, 1)) Py_CLEAR(l);
    }
    return l;
}

PyObject *fp_stream_new_unfilled(fp_state *st, fp_flow *f)
{
    stream_ext *x = f->ext;
    fp_stream_obj *s = PyObject_GC_New(fp_stream_obj, st->Stream_Type);
    if (s == NULL) return NULL;
    s->flow = *f;
    s->flow.ext = NULL;
    f->hints = NULL; /* owned by the Stream now */
    s->anomalies = x->r.anomalies;
    s->flow_anomalies = f->flow_anomalies & (FP_FLOW_ANOM_EVICTED | FP_FLOW_ANOM_ALLOC_FAILED);
    s->stored = 0;
    for (int di = 0; di < 2; di++) {
        const fp_reasm_dir *d = &x->r.dir[di];
        s->data[di] = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)d->len);
        s->gaps[di] = gap_list(st, d);
        s->delivered[di] = d->delivered;
        s->gap_bytes[di] = d->gap_bytes;
        s->fin_reached[di] = d->fin_reached;
        s->rst[di] = d->rst;
        s->started[di] = d->started;
    }
    PyObject_GC_Track(s);
    if (!s->data[0] || !s->data[1] || !s->gaps[0] || !s->gaps[1]) {
        Py_DECREF(s);
        return NULL;
    }
    return (PyObject *)s;
}

void fp_stream_fill(PyObject *stream, fp_stream_engine *e, fp_flow *f)
{
    stream_ext *x = f->ext;
    fp_stream_obj *s = SO(stream);
    for (int di = 0; di < 2; di++) fp_reasm_copy_stored(&x->r.dir[di], (uint8_t *)PyBytes_AS_STRING(s->data[di]));
    s->stored = e->sh.cfg.store;
    fp_stream_engine_ext_free(e, x);
    f->ext = NULL;
}

PyObject *fp_stream_new(fp_state *st, fp_stream_engine *e, fp_flow *f)
{
    PyObject *s = fp_stream_new_unfilled(st, f);
    if (s != NULL) fp_stream_fill(s, e, f);
    return s;
}

/* A live merge (engine.c) numbers a Stream once every shard's earlier creations are known. */
void fp_stream_set_id(PyObject *s, uint64_t id) { SO(s)->flow.flow_id = id; }

/* What a Stream waiting in a live merge's reorder buffer holds (its bytes and gap lists). */
size_t fp_stream_size(PyObject *s)
{
    size_t n = sizeof(fp_stream_obj);
    for (int i = 0; i < 2; i++)
        n += (size_t)PyBytes_GET_SIZE(SO(s)->data[i]) + 64 * (size_t)PyList_GET_SIZE(SO(s)->gaps[i]);
    return n;
}

static int stream_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    for (int i = 0; i < 2; i++) Py_VISIT(SO(self)->gaps[i]);
    return 0;
}

static int stream_clear(PyObject *self)
{
    for (int i = 0; i < 2; i++) {
        Py_CLEAR(SO(self)->data[i]);
        Py_CLEAR(SO(self)->gaps[i]);
    }
    return 0;
}

static void stream_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    stream_clear(self);
    free(SO(self)->flow.hints);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* "truncated" (bytes cut by depth/buffer caps or the flow evicted) takes precedence: the
 * data is not the whole conversation, whatever the ending. */
static const char *stream_state(const fp_stream_obj *s)
{
    if ((s->anomalies & (FP_REASM_DEPTH_CUT | FP_REASM_BUFFER_CUT | FP_REASM_OOM)) ||
        s->flow.expiration == FP_EXP_EVICTED)
        return "truncated";
    if (s->rst[0] || s->rst[1]) return "reset";
    if (s->fin_reached[0] && s->fin_reached[1]) return "closed";
    if (s->flow.expiration == FP_EXP_FIN) return "closed";
    if (s->flow.expiration == FP_EXP_IDLE) return "timeout";
    return "open";
}

static int dir_closed(const fp_stream_obj *s, int di) { return s->fin_reached[di] && s->gap_bytes[di] == 0; }

enum { A_ID, A_CIP, A_CPORT, A_SIP, A_SPORT, A_KEY, A_CDATA, A_SDATA, A_CGAPS, A_SGAPS, A_STATE, A_CCLOSED,
       A_SCLOSED, A_MID, A_CPKTS, A_SPKTS, A_CBYTES, A_SBYTES, A_CGAPB, A_SGAPB, A_FIRST, A_LAST, A_ANOM,
       A_VER, A_VLAN, A_COMPLETE, A_STORED, A_FLOW };

static PyObject *stream_get(PyObject *self, void *closure)
{
    fp_stream_obj *s = SO(self);
    const fp_flow *f = &s->flow;
    switch ((int)(intptr_t)closure) {
    case A_ID: return PyLong_FromUnsignedLongLong(f->flow_id);
    case A_CIP: case A_SIP: case A_CPORT: case A_SPORT: {
        int cl = (intptr_t)closure == A_CIP || (intptr_t)closure == A_CPORT;
        PyObject *ep = endpoint(f, cl);
        if (ep == NULL) return NULL;
        int port = (intptr_t)closure == A_CPORT || (intptr_t)closure == A_SPORT;
        PyObject *r = Py_NewRef(PyTuple_GET_ITEM(ep, port));
        Py_DECREF(ep);
        return r;
    }
    case A_KEY: {
        PyObject *c = endpoint(f, 1), *sv = endpoint(f, 0);
        PyObject *r = c && sv ? PyTuple_Pack(4, PyTuple_GET_ITEM(c, 0), PyTuple_GET_ITEM(c, 1),
                                             PyTuple_GET_ITEM(sv, 0), PyTuple_GET_ITEM(sv, 1))
                              : NULL;
        Py_XDECREF(c);
        Py_XDECREF(sv);
        return r;
    }
    case A_CDATA: return Py_NewRef(s->data[0]);
    case A_SDATA: return Py_NewRef(s->data[1]);
    case A_CGAPS: return PySequence_List(s->gaps[0]);
    case A_SGAPS: return PySequence_List(s->gaps[1]);
    case A_STATE: return PyUnicode_FromString(stream_state(s));
    case A_CCLOSED: return PyBool_FromLong(dir_closed(s, 0));
    case A_SCLOSED: return PyBool_FromLong(dir_closed(s, 1));
    case A_MID: return PyBool_FromLong((s->anomalies & FP_REASM_MIDSTREAM) != 0);
    case A_CPKTS: return PyLong_FromUnsignedLongLong(f->dir[0].packets);
    case A_SPKTS: return PyLong_FromUnsignedLongLong(f->dir[1].packets);
    case A_CBYTES: return PyLong_FromUnsignedLongLong(s->delivered[0]);
    case A_SBYTES: return PyLong_FromUnsignedLongLong(s->delivered[1]);
    case A_CGAPB: return PyLong_FromUnsignedLongLong(s->gap_bytes[0]);
    case A_SGAPB: return PyLong_FromUnsignedLongLong(s->gap_bytes[1]);
    case A_FIRST: return PyFloat_FromDouble((double)f->first_ns / 1e9);
    case A_LAST: return PyFloat_FromDouble((double)f->last_ns / 1e9);
    case A_ANOM: {
        fp_flag_group groups[] = {
            {s->anomalies, fp_reasm_anomaly_names, FP_REASM_ANOM_COUNT_BITS, ""},
            {s->flow_anomalies, fp_flow_anomaly_names, FP_FLOW_ANOM_COUNT_BITS, ""},
        };
        return fp_flag_names(groups, 2);
    }
    case A_VER: return PyLong_FromLong(f->key.ip_version);
    case A_VLAN: return f->key.vlan == FP_FLOW_NO_VLAN ? Py_NewRef(Py_None) : PyLong_FromLong(f->key.vlan);
    case A_COMPLETE:
        return PyBool_FromLong(dir_closed(s, 0) && dir_closed(s, 1) && !(s->anomalies & FP_REASM_MIDSTREAM) &&
                               strcmp(stream_state(s), "closed") == 0);
    case A_STORED: return PyBool_FromLong(s->stored);
    case A_FLOW: {
        fp_state *st = fp_state_from_type(Py_TYPE(self));
        return st ? fp_flow_record_new(st, f) : NULL;
    }
    }
    Py_RETURN_NONE;
}

#define G(name, id, doc) {name, stream_get, NULL, doc, (void *)(intptr_t)(id)}
static PyGetSetDef stream_getset[] = {
    G("stream_id", A_ID, "The connection's flow_id (creation order)."),
    G("client_ip", A_CIP, "Address of the client (the SYN's sender; else the first sender)."),
    G("client_port", A_CPORT, "Client port."),
    G("server_ip", A_SIP, "Server address."),
    G("server_port", A_SPORT, "Server port."),
    G("key", A_KEY, "(client_ip, client_port, server_ip, server_port)."),
    G("client_data", A_CDATA, "Bytes the client sent, in order, each once; holes removed (see client_gaps)."),
    G("server_data", A_SDATA, "Bytes the server sent."),
    G("client_gaps", A_CGAPS, "Gap(offset, length): `length` bytes the capture lacks belong at client_data[offset]."),
    G("server_gaps", A_SGAPS, "Gaps of server_data."),
    G("state", A_STATE, "'closed', 'reset', 'timeout' (idle), 'open' (input ended first) or 'truncated'\n"
                        "(bytes cut by depth or a buffer cap, or the connection evicted: anomaly 'evicted')."),
    G("client_closed", A_CCLOSED, "The client's FIN was reached with every byte before it present."),
    G("server_closed", A_SCLOSED, "The server's FIN was reached with every byte before it present."),
    G("midstream", A_MID, "No SYN seen: the stream starts at the first data captured."),
    G("client_packets", A_CPKTS, "Packets client -> server."),
    G("server_packets", A_SPKTS, "Packets server -> client."),
    G("client_bytes", A_CBYTES, "Bytes delivered client -> server (len(client_data) when stored)."),
    G("server_bytes", A_SBYTES, "Bytes delivered server -> client."),
    G("client_gap_bytes", A_CGAPB, "Bytes missing client -> server."),
    G("server_gap_bytes", A_SGAPB, "Bytes missing server -> client."),
    G("first_seen", A_FIRST, "Time of the first packet (float seconds)."),
    G("last_seen", A_LAST, "Time of the last packet."),
    G("anomalies", A_ANOM, "Names of reassembly anomalies (stream_midstream, stream_overlap_inconsistent, ...),\n"
                           "plus 'evicted' (left early to stay within max_memory/max_flows) and\n"
                           "'allocation_failed' (on_memory_error='drop' lost some of its state)."),
    G("ip_version", A_VER, "4 or 6."),
    G("vlan", A_VLAN, "Outer VLAN id or None."),
    G("complete", A_COMPLETE, "Handshake seen, both directions closed by FIN, no gaps and nothing cut."),
    G("stored", A_STORED, "False when streams(store=False): data went to on_data only."),
    G("flow", A_FLOW, "The connection's Flow record (counters, history, conn_state)."),
    {NULL},
};

static PyObject *call_streams_py(PyObject *self, const char *func, PyObject *args, PyObject *kwargs)
{
    return fp_call_method_py("fastpkt.streams", func, self, args, kwargs);
}

static PyObject *stream_http_messages(PyObject *self, PyObject *args, PyObject *kwargs)
{
    return call_streams_py(self, "stream_http_messages", args, kwargs);
}
static PyObject *stream_save(PyObject *self, PyObject *args, PyObject *kwargs)
{
    return call_streams_py(self, "stream_save", args, kwargs);
}
static PyMethodDef stream_methods[] = {
    {"http_messages", (PyCFunction)(void (*)(void))stream_http_messages, METH_VARARGS | METH_KEYWORDS,
     "http_messages(decode=False): HTTP/1.x requests and responses in this stream (fastpkt.http)."},
    {"save", (PyCFunction)(void (*)(void))stream_save, METH_VARARGS | METH_KEYWORDS,
     "save(directory): write one file per direction with data; returns the paths."},
    FP_VIEW_METHOD,
    {NULL},
};

static PyObject *stream_repr(PyObject *self)
{
    fp_stream_obj *s = SO(self);
    PyObject *c = endpoint(&s->flow, 1), *sv = endpoint(&s->flow, 0);
    PyObject *r = NULL;
    if (c && sv) {
        const char *fmt4 = "<fastpkt.Stream %llu %U:%S -> %U:%S %s, %llu/%llu bytes, %zd/%zd gaps>";
        const char *fmt6 = "<fastpkt.Stream %llu [%U]:%S -> [%U]:%S %s, %llu/%llu bytes, %zd/%zd gaps>";
        r = PyUnicode_FromFormat(s->flow.key.ip_version == 6 ? fmt6 : fmt4, (unsigned long long)s->flow.flow_id,
                                 PyTuple_GET_ITEM(c, 0), PyTuple_GET_ITEM(c, 1), PyTuple_GET_ITEM(sv, 0),
                                 PyTuple_GET_ITEM(sv, 1), stream_state(s), (unsigned long long)s->delivered[0],
                                 (unsigned long long)s->delivered[1], PyList_GET_SIZE(s->gaps[0]),
                                 PyList_GET_SIZE(s->gaps[1]));
    }
    Py_XDECREF(c);
    Py_XDECREF(sv);
    return r;
}

static PyType_Slot stream_slots[] = {
    {Py_tp_doc, (void *)"One reassembled TCP connection (from fastpkt.streams())."},
    {Py_tp_dealloc, stream_dealloc},
    {Py_tp_traverse, stream_traverse},
    {Py_tp_clear, stream_clear},
    {Py_tp_repr, stream_repr},
    {Py_tp_getset, stream_getset},
    {Py_tp_methods, stream_methods},
    {0, NULL},
};

static PyType_Spec stream_spec = {
    .name = "fastpkt.Stream",
    .basicsize = sizeof(fp_stream_obj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = stream_slots,
};

static PyStructSequence_Field gap_fields[] = {
    {"offset", "index in the direction's data where the missing bytes belong"},
    {"length", "number of bytes missing"},
    {NULL, NULL},
};
static PyStructSequence_Desc gap_desc = {"fastpkt.Gap", "Bytes of a stream the capture lacks.", gap_fields, 2};

static PyStructSequence_Field chunk_fields[] = {
    {"stream_id", "the Stream's stream_id"},
    {"direction", "'client' (client -> server) or 'server'"},
    {"offset", "position of data in the direction's byte stream (missing bytes counted)"},
    {"data", "bytes, in order"},
    {"gap", "bytes missing just before this chunk (0: contiguous)"},
    {"client", "(client_ip, client_port)"},
    {"server", "(server_ip, server_port)"},
    {NULL, NULL},
};
static PyStructSequence_Desc chunk_desc = {"fastpkt.StreamChunk", "In-order stream data, handed to on_data.",
                                           chunk_fields, 7};

int fp_streams_register(PyObject *m, fp_state *st)
{
    st->Gap_Type = PyStructSequence_NewType(&gap_desc);
    if (st->Gap_Type == NULL || PyModule_AddType(m, st->Gap_Type) < 0) return -1;
    st->StreamChunk_Type = PyStructSequence_NewType(&chunk_desc);
    if (st->StreamChunk_Type == NULL || PyModule_AddType(m, st->StreamChunk_Type) < 0) return -1;
    st->Stream_Type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &stream_spec, NULL);
    if (st->Stream_Type == NULL) return -1;
    return PyModule_AddType(m, st->Stream_Type);
}
