/* The bridge of sending and probing (csrc/probe): fastpkt.probe's private functions. A
 * session is a capsule; its loop runs with the GIL released in slices of 100 ms, between
 * which signals are checked (Ctrl+C ends sr() at once). */
#include "pyfp.h"

#include "../probe/probe.h"

#define SESSION_CAPSULE "fastpkt.probe_session"
#define SLICE_MS 100

typedef struct {
    fp_probe_session *s;
    int busy; /* a thread is inside the GIL-free loop */
} session_box;

static void session_free(PyObject *cap)
{
    session_box *b = PyCapsule_GetPointer(cap, SESSION_CAPSULE);
    if (b == NULL) return;
    fp_probe_close(b->s);
    PyMem_Free(b);
}

static session_box *get_box(PyObject *cap)
{
    session_box *b = PyCapsule_GetPointer(cap, SESSION_CAPSULE);
    if (b == NULL) return NULL;
    if (b->s == NULL) {
        PyErr_SetString(PyExc_ValueError, "the probing session is closed");
        return NULL;
    }
    if (b->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the probing session is in use by another thread");
        return NULL;
    }
    return b;
}

static PyObject *probe_open(PyObject *module, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"capture_iface", "filter", "l2_iface", "multi", "buffer_size", NULL};
    fp_probe_config cfg = {0};
    fp_state *st = fp_state_from_module(module);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|zzzpi:_probe_open", kwlist, &cfg.capture_iface, &cfg.filter,
                                     &cfg.l2_iface, &cfg.multi, &cfg.buffer_size))
        return NULL;
    fp_error err = {0};
    fp_probe_session *s;
    Py_BEGIN_ALLOW_THREADS
    s = fp_probe_open(&cfg, &err);
    Py_END_ALLOW_THREADS
    if (s == NULL) {
        fp_raise_source_error(st, &err);
        return NULL;
    }
    session_box *b = PyMem_Calloc(1, sizeof *b);
    if (b == NULL) {
        fp_probe_close(s);
        return PyErr_NoMemory();
    }
    b->s = s;
    PyObject *cap = PyCapsule_New(b, SESSION_CAPSULE, session_free);
    if (cap == NULL) {
        fp_probe_close(s);
        PyMem_Free(b);
    }
    return cap;
}

/* Append every bytes-like object of `seq` as a probe. */
static PyObject *probe_add(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *cap, *seq;
    if (!PyArg_ParseTuple(args, "OO:_probe_add", &cap, &seq)) return NULL;
    session_box *b = get_box(cap);
    if (b == NULL) return NULL;
    PyObject *fast = PySequence_Fast(seq, "probes must be a sequence of bytes");
    if (fast == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_buffer buf;
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(fast, i), &buf, PyBUF_SIMPLE) < 0) {
            Py_DECREF(fast);
            return NULL;
        }
        int64_t idx = buf.len > 0xffff ? -2 : fp_probe_add(b->s, buf.buf, (uint32_t)buf.len);
        PyBuffer_Release(&buf);
        if (idx < 0) {
            Py_DECREF(fast);
            if (idx == -2) return PyErr_Format(PyExc_ValueError, "probe %zd: longer than 65535 bytes", i);
            return PyErr_NoMemory();
        }
    }
    Py_DECREF(fast);
    return PyLong_FromUnsignedLong(fp_probe_count(b->s));
}

static int64_t seconds_ns(double s) { return s <= 0 ? 0 : (int64_t)(s * 1e9 + 0.5); }

/* Run one round: send the listed probes `inter` seconds apart and wait `timeout` seconds
 * after the last (None: until all are answered). */
static PyObject *probe_run(PyObject *module, PyObject *args)
{
    PyObject *cap, *which, *timeout_obj;
    double inter;
    fp_state *st = fp_state_from_module(module);
    if (!PyArg_ParseTuple(args, "OOdO:_probe_run", &cap, &which, &inter, &timeout_obj)) return NULL;
    session_box *b = get_box(cap);
    if (b == NULL) return NULL;
    int64_t timeout_ns = -1;
    if (timeout_obj != Py_None) {
        double t = PyFloat_AsDouble(timeout_obj);
        if (t == -1.0 && PyErr_Occurred()) return NULL;
        timeout_ns = seconds_ns(t);
    }
    PyObject *fast = PySequence_Fast(which, "probe indices must be a sequence of int");
    if (fast == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    uint32_t *idx = PyMem_Malloc(((size_t)n + 1) * sizeof *idx);
    if (idx == NULL) {
        Py_DECREF(fast);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned long v = PyLong_AsUnsignedLong(PySequence_Fast_GET_ITEM(fast, i));
        if (PyErr_Occurred() || v > UINT32_MAX) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "probe index out of range");
            Py_DECREF(fast);
            PyMem_Free(idx);
            return NULL;
        }
        idx[i] = (uint32_t)v;
    }
    Py_DECREF(fast);
    int rc = fp_probe_plan(b->s, idx, (uint32_t)n, seconds_ns(inter), timeout_ns);
    PyMem_Free(idx);
    if (rc == -1) return PyErr_Format(PyExc_IndexError, "probe index out of range");
    if (rc < 0) return PyErr_NoMemory();
    fp_error err = {0};
    b->busy = 1;
    do {
        Py_BEGIN_ALLOW_THREADS
        rc = fp_probe_run(b->s, SLICE_MS, &err);
        Py_END_ALLOW_THREADS
        if (rc == 1 && PyErr_CheckSignals() < 0) {
            b->busy = 0;
            return NULL;
        }
    } while (rc == 1);
    b->busy = 0;
    if (rc < 0) {
        fp_raise_source_error(st, &err);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ([(probe index, answer Packet)], [sent time or None per probe]). With l3, answers start
 * at their IP/ARP header (LINKTYPE_RAW for IP), as Scapy's L3 sockets return them. */
static PyObject *probe_results(PyObject *module, PyObject *args)
{
    PyObject *cap;
    int l3;
    fp_state *st = fp_state_from_module(module);
    if (!PyArg_ParseTuple(args, "Op:_probe_results", &cap, &l3)) return NULL;
    session_box *b = get_box(cap);
    if (b == NULL) return NULL;
    uint32_t na = fp_probe_answer_count(b->s), np = fp_probe_count(b->s);
    PyObject *answers = PyList_New(na), *sent = PyList_New(np);
    if (answers == NULL || sent == NULL) goto fail;
    for (uint32_t i = 0; i < na; i++) {
        const fp_probe_answer *a = fp_probe_answer_at(b->s, i);
        const uint8_t *d = fp_probe_answer_data(b->s, a);
        /* an ARP answer keeps its link header: Scapy's L3 sockets never see ARP */
        int strip = l3 && a->net_off < a->len && (d[a->net_off] >> 4 == 4 || d[a->net_off] >> 4 == 6);
        uint32_t off = strip ? a->net_off : 0;
        PyObject *pkt = (PyObject *)fp_packet_from_bytes(st, d + off, a->len - off, a->len - off,
                                                         strip ? FP_LINKTYPE_RAW : a->linktype, a->ts_ns);
        PyObject *t = pkt ? Py_BuildValue("(kN)", (unsigned long)a->probe, pkt) : NULL;
        if (t == NULL) goto fail;
        PyList_SET_ITEM(answers, i, t);
    }
    for (uint32_t i = 0; i < np; i++) {
        int64_t ns = fp_probe_sent_ns(b->s, i);
        PyObject *t = ns ? PyFloat_FromDouble((double)ns / 1e9) : Py_NewRef(Py_None);
        if (t == NULL) goto fail;
        PyList_SET_ITEM(sent, i, t);
    }
    return Py_BuildValue("(NN)", answers, sent);
fail:
    Py_XDECREF(answers);
    Py_XDECREF(sent);
    return NULL;
}

/* The probes of `which` that have no answer yet (retry rounds ask this, not for Packets). */
static PyObject *probe_pending(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *cap, *which;
    if (!PyArg_ParseTuple(args, "OO:_probe_pending", &cap, &which)) return NULL;
    session_box *b = get_box(cap);
    if (b == NULL) return NULL;
    PyObject *fast = PySequence_Fast(which, "probe indices must be a sequence of int");
    PyObject *out = fast ? PyList_New(0) : NULL;
    for (Py_ssize_t i = 0; out && i < PySequence_Fast_GET_SIZE(fast); i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(fast, i);
        unsigned long v = PyLong_AsUnsignedLong(o);
        if ((v == (unsigned long)-1 && PyErr_Occurred()) ||
            (v < fp_probe_count(b->s) && fp_probe_answers_of(b->s, (uint32_t)v) == 0 && PyList_Append(out, o) < 0))
            Py_CLEAR(out);
    }
    Py_XDECREF(fast);
    return out;
}

static PyObject *probe_stats(PyObject *module, PyObject *cap)
{
    (void)module;
    session_box *b = get_box(cap);
    if (b == NULL) return NULL;
    fp_probe_stats ps;
    uint64_t recv = 0, drop = 0;
    fp_probe_get_stats(b->s, &ps);
    (void)fp_probe_capture_stats(b->s, &recv, &drop);
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:i}", "captured", (unsigned long long)ps.captured,
                         "sent", (unsigned long long)ps.sent, "unmatched", (unsigned long long)ps.unmatched,
                         "capture_dropped", (unsigned long long)drop, "send_skipped",
                         (unsigned long long)ps.send_skipped, "last_skip_errno", ps.last_skip_errno);
}

static PyObject *probe_close(PyObject *module, PyObject *cap)
{
    (void)module;
    session_box *b = PyCapsule_GetPointer(cap, SESSION_CAPSULE);
    if (b == NULL) return NULL;
    if (b->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the probing session is in use by another thread");
        return NULL;
    }
    fp_probe_session *s = b->s;
    b->s = NULL;
    Py_BEGIN_ALLOW_THREADS
    fp_probe_close(s);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* _send(packets, l2_iface, inter, loops): send every packet `loops` times, `inter` seconds
 * apart, with the GIL released; returns (sent, skipped, last skip errno). */
static PyObject *mod_send(PyObject *module, PyObject *args)
{
    PyObject *seq;
    const char *l2_iface;
    double inter;
    unsigned long loops;
    fp_state *st = fp_state_from_module(module);
    if (!PyArg_ParseTuple(args, "Ozdk:_send", &seq, &l2_iface, &inter, &loops)) return NULL;
    PyObject *fast = PySequence_Fast(seq, "packets must be a sequence of bytes");
    if (fast == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    Py_buffer *bufs = PyMem_Calloc((size_t)n + 1, sizeof *bufs);
    PyObject *res = NULL;
    Py_ssize_t got = 0;
    if (bufs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (; got < n; got++)
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(fast, got), &bufs[got], PyBUF_SIMPLE) < 0) goto done;
    fp_error err = {0};
    fp_sender *snd;
    Py_BEGIN_ALLOW_THREADS
    snd = fp_sender_open(l2_iface, &err);
    Py_END_ALLOW_THREADS
    if (snd == NULL) {
        fp_raise_source_error(st, &err);
        goto done;
    }
    unsigned long long sent = 0, skipped = 0;
    int why = 0, last_why = 0, rc = 0;
    struct timespec gap = {(time_t)inter, (long)((inter - (double)(time_t)inter) * 1e9)};
    for (unsigned long l = 0; l < loops && rc >= 0; l++) {
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n; i++) {
            if (bufs[i].len > 0xffff) {
                why = EMSGSIZE;
                rc = 1;
            } else {
                rc = fp_sender_send(snd, bufs[i].buf, (uint32_t)bufs[i].len, &why, &err);
            }
            if (rc < 0) break;
            if (rc == 0) sent++;
            else skipped++, last_why = why;
            if (inter > 0) nanosleep(&gap, NULL);
        }
        Py_END_ALLOW_THREADS
        if (rc >= 0 && PyErr_CheckSignals() < 0) {
            rc = -2;
            break;
        }
    }
    fp_sender_close(snd);
    if (rc == -1) fp_raise_source_error(st, &err);
    else if (rc != -2) res = Py_BuildValue("(KKi)", sent, skipped, last_why);
done:
    for (Py_ssize_t i = 0; i < got; i++) PyBuffer_Release(&bufs[i]);
    PyMem_Free(bufs);
    Py_DECREF(fast);
    return res;
}

static PyObject *mod_answers(PyObject *module, PyObject *args)
{
    (void)module;
    Py_buffer ans, probe;
    unsigned int ans_lt, probe_lt;
    if (!PyArg_ParseTuple(args, "y*Iy*I:_answers", &ans, &ans_lt, &probe, &probe_lt)) return NULL;
    int r = fp_probe_answers(probe.buf, (uint32_t)probe.len, probe_lt, ans.buf, (uint32_t)ans.len, ans_lt);
    PyBuffer_Release(&ans);
    PyBuffer_Release(&probe);
    return PyBool_FromLong(r);
}

static PyMethodDef probe_functions[] = {
    {"_probe_open", (PyCFunction)(void (*)(void))probe_open, METH_VARARGS | METH_KEYWORDS,
     "Open a probing session: its capture first, then its sockets."},
    {"_probe_add", probe_add, METH_VARARGS, "Register probes (bytes-like); returns the probe count."},
    {"_probe_run", probe_run, METH_VARARGS, "Send probes (indices) and match answers until done."},
    {"_probe_results", probe_results, METH_VARARGS, "([(probe, answer Packet)], [sent time per probe])."},
    {"_probe_pending", probe_pending, METH_VARARGS, "The listed probes that have no answer yet."},
    {"_probe_stats", probe_stats, METH_O, "Session counters."},
    {"_probe_close", probe_close, METH_O, "Close the session's capture and sockets."},
    {"_send", mod_send, METH_VARARGS, "Send packets through raw sockets (l2_iface None) or on an interface."},
    {"_answers", mod_answers, METH_VARARGS, "_answers(answer, linktype, probe, linktype): Scapy's answers()."},
    {NULL},
};

int fp_probe_register(PyObject *m, fp_state *st)
{
    (void)st;
    return PyModule_AddFunctions(m, probe_functions);
}
