/* Reader: a lazy iterator over a capture (file, stdin/pipe, file object or memory
 * buffer, any of them possibly compressed), with an optional BPF filter run in C
 * before any Python object exists. One Reader may feed several consumers (threads,
 * engines): each record goes to exactly one of them (see fp_readers_claim). */
#include "pyfp.h"

#include <time.h>
#include <unistd.h>

#include "../filter/filter.h"
#include "../flow/ip_defrag.h"
#include "../source/bpf.h"
#include "../source/live.h"

static int64_t monotonic_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static fp_reader_obj *as_reader(PyObject *o) { return (fp_reader_obj *)o; }

static int parse_on_error(PyObject *o, fp_on_error *out)
{
    if (o == NULL || o == Py_None) {
        *out = FP_ON_ERROR_RAISE;
        return 0;
    }
    const char *s = PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;
    if (s && strcmp(s, "raise") == 0) *out = FP_ON_ERROR_RAISE;
    else if (s && strcmp(s, "stop") == 0) *out = FP_ON_ERROR_STOP;
    else if (s && strcmp(s, "skip") == 0) *out = FP_ON_ERROR_SKIP;
    else {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError, "on_error must be 'raise', 'stop' or 'skip', not %R", o);
        return -1;
    }
    return 0;
}

/* Open the source from whatever the user gave us. */
/* A source error as a Python exception; an exception the file object raised wins. */
static void raise_error(fp_reader_obj *r, fp_state *st, const fp_error *err)
{
    if (err->kind == FP_ERR_IO && r->input_exc != NULL) {
        PyObject *v = r->input_exc;
        r->input_exc = NULL;
        PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(v)), v, PyException_GetTraceback(v));
        return;
    }
    fp_raise_source_error(st, err);
}

/* A file object over a regular file: our writers must not truncate it while we read. */
static void note_file_object(fp_source *src, PyObject *source)
{
    if (src == NULL || !PyObject_HasAttrString(source, "fileno")) return;
    PyObject *fd = PyObject_CallMethod(source, "fileno", NULL);
    long n = fd && PyLong_Check(fd) ? PyLong_AsLong(fd) : -1;
    Py_XDECREF(fd);
    PyErr_Clear();   /* BytesIO and other wrappers without a descriptor say so by raising */
    if (n >= 0 && n <= INT_MAX) fp_source_note_file(src, (int)n);
}

static int open_source(fp_reader_obj *r, fp_state *st, PyObject *source, fp_on_error policy)
{
    fp_error err = {0};
    if (PyUnicode_Check(source) || PyBytes_Check(source) || PyObject_HasAttrString(source, "__fspath__")) {
        PyObject *path = NULL;
        if (!PyUnicode_FSConverter(source, &path)) return -1;
        const char *p = PyBytes_AS_STRING(path);
        Py_BEGIN_ALLOW_THREADS
        r->src = fp_source_open_path(p, policy, &err);
        Py_END_ALLOW_THREADS
        r->is_stream = strcmp(p, "-") == 0;
        Py_DECREF(path);
    } else if (PyObject_CheckBuffer(source)) {
        if (PyObject_GetBuffer(source, &r->view, PyBUF_SIMPLE) < 0) return -1;
        r->has_view = 1;
        r->src = fp_source_open_memory(r->view.buf, (size_t)r->view.len, policy, &err);
    } else if (fp_pyinput_check(source)) {
        fp_input in;
        if (fp_pyinput_new(source, &r->input_exc, &in) < 0) return -1;
        Py_XSETREF(r->file, Py_NewRef(source));
        /* The file header is read here: a pipe may block, and its writer may be a thread. */
        Py_BEGIN_ALLOW_THREADS
        r->src = fp_source_open_input(in, policy, &err);
        Py_END_ALLOW_THREADS
        note_file_object(r->src, source);
    } else {
        PyErr_Format(PyExc_TypeError,
                     "source must be a path, '-' for stdin, a binary file object or a bytes-like "
                     "capture, not %.100s",
                     Py_TYPE(source)->tp_name);
        return -1;
    }
    if (r->src == NULL) {
        raise_error(r, st, &err);
        return -1;
    }
    /* FIFOs, compressed files and other unmappable paths are streams too: reads may block. */
    r->is_stream = !fp_source_stable_data(r->src);
    return 0;
}

static int compile_filter(fp_reader_obj *r, fp_state *st, PyObject *filter)
{
    if (filter == NULL || filter == Py_None) return 0;
    const char *expr = PyUnicode_AsUTF8(filter);
    if (expr == NULL) return -1;
    char errbuf[512] = "";
    uint32_t lt = fp_source_linktype(r->src);
    /* Compile once up front so a bad expression fails at open, with libpcap's message. */
    int swapped = fp_source_byte_swapped(r->src);
    fp_bpf *probe = fp_bpf_compile_ex(expr, lt == 0xFFFFFFFFu ? FP_LINKTYPE_ETHERNET : lt, 262144,
                                      swapped, errbuf, sizeof errbuf);
    if (probe == NULL) {
        PyErr_Format(st->Error, "bad BPF filter %R: %s", filter, errbuf);
        return -1;
    }
    fp_bpf_free(probe);
    r->bpf = fp_bpf_set_new_ex(expr, 262144, swapped);
    if (r->bpf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* The display filter, compiled before the source opens: a bad one fails first. */
static int set_display_filter(fp_reader_obj *r, fp_state *st, PyObject *display_filter)
{
    if (display_filter == NULL || display_filter == Py_None) return 0;
    PyObject *df = fp_display_filter_from(st, display_filter);
    if (df == NULL) return -1;
    Py_XSETREF(r->dfilter_obj, df);
    r->dfilter = ((FpDisplayFilter *)df)->filter;
    return 0;
}

int fp_defrag_policy_arg(PyObject *arg, int *policy)
{
    if (arg == NULL) { /* a Reader's Packets stay as captured unless asked, like fp.read()'s */
        *policy = -1;
        return 0;
    }
    if (arg == Py_True) {
        *policy = FP_DEFRAG_FIRST;
        return 0;
    }
    if (arg == Py_False || arg == Py_None) {
        *policy = -1;
        return 0;
    }
    const char *name = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    if (name && (*policy = fp_defrag_policy_from_name(name)) >= 0) return 0;
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "defragment must be True, False or an overlap policy "
                                       "('first', 'last', 'bsd', 'linux'), not %R", arg);
    return -1;
}

static int reader_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"source", "filter", "on_error", "count", "display_filter", "defragment",
                             "decapsulate", NULL};
    PyObject *source, *filter = Py_None, *on_error = Py_None, *count = Py_None, *dfilter = Py_None;
    PyObject *defragment = NULL;
    int decapsulate = 1;
    fp_reader_obj *r = as_reader(self);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOOOOp:Reader", kwlist, &source, &filter, &on_error,
                                     &count, &dfilter, &defragment, &decapsulate))
        return -1;
    r->dissect_flags = decapsulate ? 0 : FP_DISSECT_NO_TUNNELS;
    if (fp_defrag_policy_arg(defragment, &r->defrag_policy) < 0) return -1;
    if (r->src != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Reader is already initialised");
        return -1;
    }
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (st == NULL) return -1;
    r->st = st;
    if (filter != Py_None && !PyUnicode_Check(filter)) {
        PyErr_SetString(PyExc_TypeError, "filter must be a BPF expression string such as 'tcp port 80'");
        return -1;
    }
    if (count != Py_None) {
        long long c = PyLong_AsLongLong(count);
        if (c == -1 && PyErr_Occurred()) return -1;
        if (c < 0) {
            PyErr_SetString(PyExc_ValueError, "count must be >= 0 (or None for all packets)");
            return -1;
        }
        r->limit = (uint64_t)c;
        r->has_limit = 1;
    }
    if (parse_on_error(on_error, &r->policy) < 0) return -1;
    if (set_display_filter(r, st, dfilter) < 0) return -1;
    if (open_source(r, st, source, r->policy) < 0) return -1;
    return compile_filter(r, st, filter);
}

/* Store the error that ended iteration under on_error='stop' as a Python exception object. */
void fp_reader_remember_stop_error(fp_reader_obj *r, fp_state *st)
{
    const fp_error *e = r->src ? fp_source_last_error(r->src) : NULL;
    if (e == NULL || e->kind == FP_OK || r->error != NULL) return;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    fp_raise_source_error(st, e);
    PyObject *t2, *v2, *tb2;
    PyErr_Fetch(&t2, &v2, &tb2);
    PyErr_NormalizeException(&t2, &v2, &tb2);
    r->error = v2;
    Py_XDECREF(t2);
    Py_XDECREF(tb2);
    PyErr_Restore(type, value, tb);
}

/* The dissection flags of the Packets a Reader makes (fastpkt.scapy's read outer headers). */
int fp_reader_packet_flags(const fp_reader_obj *r, const fp_record *rec)
{
    return r->facade ? r->dissect_flags | FP_DISSECT_NO_TUNNELS | FP_DISSECT_SCAPY
                     : r->dissect_flags | FP_DISSECT_FCS(rec->fcs_len);
}

/* The Reader's reassembler, made at the first fragment; NULL when out of memory. */
fp_defrag *fp_reader_defrag(fp_reader_obj *r)
{
    if (r->defrag == NULL) {
        fp_defrag_config cfg = {(fp_defrag_policy)r->defrag_policy, FP_DEFRAG_TIMEOUT_NS, FP_DEFRAG_MAX_BYTES};
        r->defrag = fp_defrag_new(&cfg, NULL);
    }
    return r->defrag;
}

int fp_reader_reassemble(fp_reader_obj *r, const fp_record *rec, const fp_dissection *d)
{
    if (r->pulled_defrag >= 0) return r->pulled_defrag;
    fp_dissection own;
    if (d == NULL) {
        fp_dissect_ex(rec->data, rec->caplen, rec->wirelen, rec->linktype,
                      fp_reader_packet_flags(r, rec) | FP_DISSECT_HEADERS, &own);
        d = &own;
    }
    r->pulled_res.anomalies = 0;
    if (!d->is_fragment) return r->pulled_defrag = FP_DEFRAG_PASS;
    if (fp_reader_defrag(r) == NULL) return -1;
    return r->pulled_defrag = fp_defrag_add(r->defrag, rec->data, rec->caplen, d, rec->ts_ns, r->frames,
                                            &r->pulled_res);
}

/* defragment= with a display filter: the filter sees the frame as tshark shows it with
 * reassembly on (its default), so the record goes through the reassembler first, whether
 * the filter keeps it or not: the fragment completing a datagram is tested on the datagram
 * (`dns`, `udp.port == 53` match it), a fragment held for a datagram still incomplete on its
 * link and IP headers alone (tshark shows its payload as data), anything else as captured.
 * The outcome stays in pulled_defrag/pulled_res for the consumer. 1 match, 0 not, -1 out
 * of memory. */
static int match_defragmented(fp_reader_obj *r, const fp_record *rec)
{
    fp_dissection *d = &r->dissection;
    int flags = fp_reader_packet_flags(r, rec) | (fp_filter_needs_app(r->dfilter) ? 0 : FP_DISSECT_HEADERS);
    fp_dissect_ex(rec->data, rec->caplen, rec->wirelen, rec->linktype, flags, d);
    const uint8_t *data = rec->data;
    uint32_t len = rec->caplen;
    if (fp_reader_reassemble(r, rec, d) < 0) return -1;
    if (d->is_fragment) {
        if (r->pulled_defrag == FP_DEFRAG_COMPLETE) { /* as the list's filter_mask reads it */
            data = r->pulled_res.data;
            len = r->pulled_res.len;
            fp_dissect_datagram(data, len, rec->linktype, flags & ~FP_DISSECT_FCS_MASK, d);
        } else if (r->pulled_defrag == FP_DEFRAG_HELD) {
            fp_defrag_hide_upper(d);
        }
        d->anomalies |= r->pulled_res.anomalies;
    }
    fp_field_ctx x;
    fp_field_ctx_init(&x, data, len, rec->wirelen, rec->ts_ns, rec->has_ts, d);
    x.frame_caplen = rec->caplen;
    x.number = r->frames;
    return fp_filter_match(r->dfilter, &x);
}

int fp_reader_match_reassembled(fp_reader_obj *r, const fp_record *rec, const uint8_t *data, uint32_t len,
                                const fp_dissection *d)
{
    fp_field_ctx x;
    fp_field_ctx_init(&x, data, len, rec->wirelen, rec->ts_ns, rec->has_ts, d);
    x.frame_caplen = rec->caplen;
    x.number = r->frames; /* the consumer takes a record before the Reader's next pull */
    if (fp_filter_match(r->dfilter, &x)) return 1;
    r->filtered++;
    r->delivered--; /* count= counts what the filter passes */
    return 0;
}

/* The one record loop (no Python calls: callers may release the GIL around it).
 * Returns FP_PULL_RECORD with the next record that passes the filter and the count
 * limit, FP_PULL_END, FP_PULL_SOURCE_ERROR (*err filled) or FP_PULL_FILTER_ERROR
 * (libpcap's message in errbuf). */
static int pull(fp_reader_obj *r, fp_record *rec, fp_error *err, char *errbuf, size_t errlen, int reassembling)
{
    if (r->src == NULL || r->closed) return FP_PULL_END;
    for (;;) {
        if (r->has_limit && r->delivered >= r->limit) return FP_PULL_END;
        if (r->deadline_ns && monotonic_ns() >= r->deadline_ns) return FP_PULL_END;
        int rc = fp_source_next(r->src, rec, err);
        if (rc == 0) return FP_PULL_END;
        if (rc < 0) return FP_PULL_SOURCE_ERROR;
        if (rc == FP_SOURCE_IDLE) return FP_PULL_IDLE;
        r->frames++;
        r->pulled_defrag = -1;
        if (r->bpf) {
            int m = fp_bpf_set_match(r->bpf, rec, errbuf, errlen);
            if (m < 0) return FP_PULL_FILTER_ERROR;
            if (m == 0) {
                r->filtered++;
                continue;
            }
        }
        if (reassembling && FP_READER_FILTERS_AFTER_DEFRAG(r)) { /* the consumer reassembles, then filters */
            fp_dissect_ex(rec->data, rec->caplen, rec->wirelen, rec->linktype,
                          r->dissect_flags | FP_DISSECT_FCS(rec->fcs_len), &r->dissection);
        } else if (r->dfilter) {
            int m = r->defrag_policy >= 0 ? match_defragmented(r, rec)
                                          : fp_filter_match_record(r->dfilter, rec->data, rec->caplen, rec->wirelen,
                                                                   rec->linktype, rec->ts_ns, rec->has_ts, r->frames,
                                                                   r->keep_dissection,
                                                                   r->dissect_flags | FP_DISSECT_FCS(rec->fcs_len),
                                                                   &r->dissection);
            if (m < 0) return FP_PULL_NO_MEMORY;
            if (m == 0) {
                r->filtered++;
                continue;
            }
        }
        r->delivered++;
        return FP_PULL_RECORD;
    }
}

int fp_reader_pull(fp_reader_obj *r, fp_record *rec, fp_error *err, char *errbuf, size_t errlen)
{
    return pull(r, rec, err, errbuf, errlen, 0);
}

int fp_reader_pull_reassembling(fp_reader_obj *r, fp_record *rec, fp_error *err, char *errbuf, size_t errlen)
{
    return pull(r, rec, err, errbuf, errlen, 1);
}

int fp_reader_report_progress(fp_reader_obj *r, PyObject *progress)
{
    if (progress == Py_None || r->src == NULL) return 0;
    PyObject *res = PyObject_CallFunction(progress, "KK", (unsigned long long)fp_source_position(r->src),
                                          (unsigned long long)fp_source_size(r->src));
    Py_XDECREF(res);
    return res == NULL ? -1 : 0;
}

/* Turn a pull result other than FP_PULL_RECORD into Python state: NULL error set, or
 * end of input (returns 0, stop error remembered). */
int fp_reader_pull_finish(fp_reader_obj *r, fp_state *st, int rc, const fp_record *rec,
                          const fp_error *err, const char *errbuf)
{
    if (rc == FP_PULL_SOURCE_ERROR) {
        raise_error(r, st, err);
        return -1;
    }
    if (rc == FP_PULL_FILTER_ERROR) {
        PyErr_Format(st->Error, "BPF filter cannot be used on link type %u: %s", rec->linktype, errbuf);
        return -1;
    }
    if (rc == FP_PULL_NO_MEMORY) {
        PyErr_NoMemory();
        return -1;
    }
    fp_reader_remember_stop_error(r, st);
    return 0;
}

/* ---- sharing ------------------------------------------------------------------------
 * Pulls with the GIL held are serialised by the GIL. A GIL-free pull (engines, counting,
 * streams and file objects) claims the Reader first; the claim lasts until the claimer
 * is done with the record data (a stream buffer moves on the next pull) and is checked
 * and changed only with the GIL held, so an uncontended claim is two stores and the
 * per-packet path of an unclaimed mmap'd Reader one comparison. A thread that finds a
 * Reader claimed takes its lock on the claimer's behalf (any thread may release a
 * PyThread lock) and waits on it with the GIL released; the release frees the lock.
 * Claims of several Readers are all or none: no thread waits while holding one, so
 * engines sharing Readers cannot deadlock. */

static fp_reader_obj *first_claimed(PyObject *const *readers, Py_ssize_t n, unsigned long me, int *error)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        fp_reader_obj *r = as_reader(readers[i]);
        for (Py_ssize_t j = 0; j < i; j++)
            if (readers[j] == readers[i]) {
                PyErr_SetString(PyExc_ValueError, "the same Reader is listed twice: each record "
                                                  "would go to one of the two places only");
                *error = 1;
                return NULL;
            }
        if (r->claim_owner == me) {
            PyErr_SetString(PyExc_RuntimeError,
                            "this Reader is already being read by this thread (a callback of "
                            "its consumer may not read it too)");
            *error = 1;
            return NULL;
        }
        if (r->claim_owner != 0) return r;
    }
    return NULL;
}

int fp_readers_claim(PyObject *const *readers, Py_ssize_t n)
{
    unsigned long me = PyThread_get_thread_ident();
    for (;;) {
        int error = 0;
        fp_reader_obj *busy = first_claimed(readers, n, me, &error);
        if (error) return -1;
        if (busy == NULL) break;
        if (busy->claim_lock == NULL && (busy->claim_lock = PyThread_allocate_lock()) == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        /* Locked for the claimer unless another waiter did it (or holds it for an instant
         * on its way out: then the timed wait below just comes round again). */
        if (!busy->claim_locked && PyThread_acquire_lock(busy->claim_lock, NOWAIT_LOCK))
            busy->claim_locked = 1;
        /* Wait for the release without the GIL; come back for signals every 100 ms. */
        PyThread_type_lock lock = busy->claim_lock;
        Py_INCREF(busy);
        Py_BEGIN_ALLOW_THREADS
        if (PyThread_acquire_lock_timed(lock, 100000, 0) == PY_LOCK_ACQUIRED) PyThread_release_lock(lock);
        Py_END_ALLOW_THREADS
        Py_DECREF(busy);
        if (PyErr_CheckSignals() < 0) return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) as_reader(readers[i])->claim_owner = me;
    return 0;
}

void fp_readers_release(PyObject *const *readers, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        fp_reader_obj *r = as_reader(readers[i]);
        r->claim_owner = 0;
        if (r->claim_locked) { /* a waiter locked it for us: wake it */
            r->claim_locked = 0;
            PyThread_release_lock(r->claim_lock);
        }
        if (r->closed && r->exports == 0) fp_reader_release_source(r);
    }
}

/* fp_readers_claim/release of one Reader when nobody else wants it: per packet, inline. */
static inline int claim_one(PyObject *self)
{
    fp_reader_obj *r = as_reader(self);
    if (r->claim_owner != 0) return fp_readers_claim(&self, 1);
    r->claim_owner = PyThread_get_thread_ident();
    return 0;
}

static inline void release_one(PyObject *self)
{
    fp_reader_obj *r = as_reader(self);
    if (r->claim_locked || r->closed) fp_readers_release(&self, 1);
    else r->claim_owner = 0;
}

/* deliver()'s fragment through the reassembler: delivered as it is (with the reassembler's
 * anomalies), or, completing a datagram, as the reassembled frame. Takes `p`. Out of line:
 * inlined, it would give every record's call a frame the other packets do not use. */
static __attribute__((noinline)) PyObject *deliver_fragment(fp_reader_obj *r, fp_state *st, const fp_record *rec,
                                                            FpPacket *p)
{
    const fp_defrag_result *res = &r->pulled_res;
    int rc = fp_reader_reassemble(r, rec, &p->d);
    if (rc < 0) {
        Py_DECREF(p);
        return PyErr_NoMemory();
    }
    if (rc != FP_DEFRAG_COMPLETE) {
        p->d.anomalies |= res->anomalies;
        return (PyObject *)p;
    }
    Py_DECREF(p);
    return (PyObject *)fp_packet_reassembled(st, rec, res->data, res->len, res->anomalies, res->frames,
                                             res->nframes, r->facade, r->dissect_flags);
}

/* The Packet of a record, through IP reassembly (deliver_fragment). Inlined: the record's
 * call chain is one frame shorter (~20 instructions a packet of a Reader's iteration). */
static inline __attribute__((always_inline)) PyObject *deliver(fp_reader_obj *r, fp_state *st, const fp_record *rec, PyObject *owner)
{
    const fp_defrag_result *res = &r->pulled_res;
    if (r->pulled_defrag == FP_DEFRAG_COMPLETE) /* reassembled by the pull, for the display filter */
        return (PyObject *)fp_packet_reassembled(st, rec, res->data, res->len, res->anomalies, res->frames,
                                                 res->nframes, r->facade, r->dissect_flags);
    FpPacket *p = fp_packet_from_record(st, rec, owner, r->facade, r->dissect_flags);
    if (p == NULL || !p->d.is_fragment || r->defrag_policy < 0) return (PyObject *)p;
    return deliver_fragment(r, st, rec, p);
}

/* reader_iternext's general path: a stream or live source, a filter, count or deadline,
 * pcapng, the end, errors. A quiet live capture comes back every read timeout to let
 * signals (Ctrl+C) through. Out of line: its error buffers would make every record's call
 * set up a stack frame and save registers it does not use. */
static __attribute__((noinline)) PyObject *reader_next_general(PyObject *self)
{
    fp_reader_obj *r = as_reader(self);
    fp_state *st = r->st;
    fp_record rec;
    fp_error err; /* filled by the source only on error: no per-record zeroing */
    char errbuf[512];
    int rc;
    if (r->src == NULL) {
        if (!r->closed) PyErr_SetString(PyExc_ValueError, "Reader was not initialised");
        return NULL;
    }
    if (!r->is_stream && r->claim_owner == 0) { /* mmap'd or memory: pull under the GIL */
        rc = fp_reader_pull(r, &rec, &err, errbuf, sizeof errbuf);
        if (rc == FP_PULL_RECORD) return deliver(r, st, &rec, self);
        fp_reader_pull_finish(r, st, rc, &rec, &err, errbuf);
        return NULL;
    }
    if (claim_one(self) < 0) return NULL;
    for (;;) {
        Py_BEGIN_ALLOW_THREADS
        rc = fp_reader_pull(r, &rec, &err, errbuf, sizeof errbuf);
        Py_END_ALLOW_THREADS
        if (rc != FP_PULL_IDLE) break;
        if (PyErr_CheckSignals() < 0) {
            release_one(self);
            return NULL;
        }
    }
    if (r->closed && rc == FP_PULL_RECORD) rc = FP_PULL_END; /* closed by another thread meanwhile */
    PyObject *pkt = NULL;
    if (rc == FP_PULL_RECORD) /* built while claimed: a stream's record moves on the next pull */
        pkt = deliver(r, st, &rec, fp_source_stable_data(r->src) ? self : NULL);
    else
        fp_reader_pull_finish(r, st, rc, &rec, &err, errbuf);
    release_one(self);
    return pkt;
}

/* Next packet for Python-level iteration. A mapping or memory buffer read without a filter,
 * count or deadline takes an ordinary pcap record inline (fp_reader_pull's bookkeeping
 * without its checks, under the GIL); anything else, having consumed nothing, goes the long
 * way. */
static PyObject *reader_iternext(PyObject *self)
{
    fp_reader_obj *r = as_reader(self);
    fp_record rec;
    /* one test of the fields or'd together: a branch each cost ~8 instructions a packet more */
    uintptr_t slow = (uintptr_t)r->is_stream | r->claim_owner | (uintptr_t)r->bpf | (uintptr_t)r->dfilter |
                     (uintptr_t)r->has_limit | (uintptr_t)r->deadline_ns | (uintptr_t)r->closed;
    if (r->src != NULL && slow == 0 && fp_source_next_quick(r->src, &rec)) {
        r->frames++;
        r->delivered++;
        r->pulled_defrag = -1; /* deliver() reassembles, as after fp_reader_pull */
        return deliver(r, r->st, &rec, self);
    }
    return reader_next_general(self);
}

/* C-only pass: count the records that pass the filter, GIL released. */
static PyObject *reader_count(PyObject *self, PyObject *unused)
{
    (void)unused;
    fp_reader_obj *r = as_reader(self);
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    if (r->src == NULL || r->closed) return PyLong_FromLong(0);
    fp_record rec;
    fp_error err;
    char errbuf[512];
    uint64_t n = 0;
    int rc;
    if (fp_readers_claim(&self, 1) < 0) return NULL;
    for (;;) { /* a quiet live capture comes back every read timeout: signals, then on */
        Py_BEGIN_ALLOW_THREADS
        while ((rc = fp_reader_pull(r, &rec, &err, errbuf, sizeof errbuf)) == FP_PULL_RECORD) n++;
        Py_END_ALLOW_THREADS
        if (rc != FP_PULL_IDLE) break;
        if (PyErr_CheckSignals() < 0) {
            fp_readers_release(&self, 1);
            return NULL;
        }
    }
    int failed = fp_reader_pull_finish(r, st, rc, &rec, &err, errbuf) < 0;
    fp_readers_release(&self, 1);
    if (failed) return NULL;
    return PyLong_FromUnsignedLongLong(n);
}

void fp_reader_release_source(fp_reader_obj *r)
{
    if (r->src && fp_source_is_live(r->src)) { /* closing a packet socket takes the kernel tens of ms */
        fp_source *src = r->src;
        Py_BEGIN_ALLOW_THREADS
        fp_source_close(src);
        Py_END_ALLOW_THREADS
    } else if (r->src) {
        fp_source_close(r->src);
    }
    r->src = NULL;
    if (r->bpf) fp_bpf_set_free(r->bpf);
    r->bpf = NULL;
    if (r->has_view) PyBuffer_Release(&r->view);
    r->has_view = 0;
}

void fp_reader_unexport(fp_reader_obj *r)
{
    if (--r->exports == 0 && r->closed && r->claim_owner == 0) fp_reader_release_source(r);
}

/* The packet blocks parked for reuse (they hold no reference to the Reader). */
static void free_parked(fp_reader_obj *r)
{
    while (r->nparked > 0) fp_packet_parked_free(r->parked[--r->nparked]);
}

static PyObject *reader_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    fp_reader_obj *r = as_reader(self);
    r->closed = 1;
    free_parked(r);
    /* A claimer in another thread (a live capture waiting for packets is woken) releases
     * the source itself; PacketLists that reference the mapping keep it alive. */
    if (r->claim_owner) fp_source_live_break(r->src);
    else if (r->exports == 0) fp_reader_release_source(r);
    Py_RETURN_NONE;
}

/* ---- live capture (fastpkt.Capture) ------------------------------------------------ */

static PyObject *reader_open_live(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"iface", "filter", "snaplen", "promisc", "immediate", "buffer_size",
                             "timeout_ms", "nanosecond", "display_filter", NULL};
    fp_reader_obj *r = as_reader(self);
    const char *iface = NULL, *filter = NULL;
    PyObject *dfilter = Py_None;
    fp_live_config cfg = {0};
    cfg.snaplen = 262144;
    cfg.immediate = 1;
    cfg.timeout_ms = 100;
    cfg.nanosecond = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|zz$ipiiipO:_open_live", kwlist, &iface, &filter, &cfg.snaplen,
                                     &cfg.promisc, &cfg.immediate, &cfg.buffer_size, &cfg.timeout_ms,
                                     &cfg.nanosecond, &dfilter))
        return NULL;
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    if (r->src != NULL || r->closed) {
        PyErr_SetString(PyExc_RuntimeError, "this Reader is already open");
        return NULL;
    }
    if (set_display_filter(r, st, dfilter) < 0) return NULL;
    cfg.iface = iface;
    cfg.filter = filter;
    fp_error err = {0};
    Py_BEGIN_ALLOW_THREADS
    r->src = fp_source_open_live(&cfg, &err);
    Py_END_ALLOW_THREADS
    if (r->src == NULL) {
        fp_raise_source_error(st, &err);
        return NULL;
    }
    r->st = st;
    r->is_stream = 1;
    Py_RETURN_NONE;
}

static PyObject *reader_live_stats(PyObject *self, PyObject *unused)
{
    (void)unused;
    fp_reader_obj *r = as_reader(self);
    uint64_t recv, drop, ifdrop;
    if (r->src == NULL || fp_source_live_stats(r->src, &recv, &drop, &ifdrop) < 0) Py_RETURN_NONE;
    return Py_BuildValue("(KKK)", (unsigned long long)recv, (unsigned long long)drop, (unsigned long long)ifdrop);
}

static PyObject *reader_set_deadline(PyObject *self, PyObject *arg)
{
    fp_reader_obj *r = as_reader(self);
    if (arg == Py_None) {
        r->deadline_ns = 0;
        Py_RETURN_NONE;
    }
    double secs = PyFloat_AsDouble(arg);
    if (secs == -1.0 && PyErr_Occurred()) return NULL;
    r->deadline_ns = monotonic_ns() + (int64_t)(secs * 1e9);
    if (r->deadline_ns == 0) r->deadline_ns = 1;
    Py_RETURN_NONE;
}

static PyObject *reader_set_limit(PyObject *self, PyObject *arg)
{
    fp_reader_obj *r = as_reader(self);
    long long c = PyLong_AsLongLong(arg);
    if (c == -1 && PyErr_Occurred()) return NULL;
    r->limit = r->delivered + (uint64_t)(c < 0 ? 0 : c);
    r->has_limit = 1;
    Py_RETURN_NONE;
}

static PyObject *reader_break(PyObject *self, PyObject *unused)
{
    (void)unused;
    fp_reader_obj *r = as_reader(self);
    if (r->src) fp_source_live_break(r->src);
    Py_RETURN_NONE;
}

static PyObject *reader_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

static PyObject *reader_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    (void)nargs;
    return reader_close(self, NULL);
}

static PyObject *reader_read_all(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"count", "progress", NULL};
    PyObject *count = Py_None, *progress = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:read_all", kwlist, &count, &progress)) return NULL;
    uint64_t limit = UINT64_MAX;
    if (count != Py_None) {
        long long c = PyLong_AsLongLong(count);
        if (c == -1 && PyErr_Occurred()) return NULL;
        if (c < 0) {
            PyErr_SetString(PyExc_ValueError, "count must be >= 0");
            return NULL;
        }
        limit = (uint64_t)c;
    }
    return fp_packetlist_from_reader(self, limit, progress);
}

static int reader_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(as_reader(self)->error);
    Py_VISIT(as_reader(self)->input_exc);
    Py_VISIT(as_reader(self)->file);
    return 0;
}

static int reader_clear(PyObject *self)
{
    fp_reader_obj *r = as_reader(self);
    if (r->file) fp_reader_release_source(r); /* its input reads the file object */
    Py_CLEAR(r->file);
    Py_CLEAR(r->error);
    Py_CLEAR(r->input_exc);
    return 0;
}

static void reader_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    free_parked(as_reader(self));
    fp_reader_release_source(as_reader(self));
    reader_clear(self);
    as_reader(self)->dfilter = NULL;
    Py_CLEAR(as_reader(self)->dfilter_obj);
    if (as_reader(self)->claim_lock) PyThread_free_lock(as_reader(self)->claim_lock);
    fp_defrag_free(as_reader(self)->defrag);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static const char *format_name(const fp_source *s)
{
    switch (fp_source_format(s)) {
    case FP_FORMAT_PCAPNG: return "pcapng";
    case FP_FORMAT_LIVE: return "live";
    default: return "pcap";
    }
}

static PyObject *get_format(PyObject *self, void *c)
{
    (void)c;
    fp_reader_obj *r = as_reader(self);
    if (r->src == NULL) Py_RETURN_NONE;
    return PyUnicode_FromString(format_name(r->src));
}

#define READER_U64_GETTER(fname, expr)                        \
    static PyObject *fname(PyObject *self, void *c)           \
    {                                                         \
        (void)c;                                              \
        fp_reader_obj *r = as_reader(self);                   \
        if (r->src == NULL) Py_RETURN_NONE;                   \
        return PyLong_FromUnsignedLongLong((uint64_t)(expr)); \
    }
READER_U64_GETTER(get_linktype, fp_source_linktype(r->src))
READER_U64_GETTER(get_snaplen, fp_source_snaplen(r->src))
READER_U64_GETTER(get_skipped, fp_source_skipped(r->src))
READER_U64_GETTER(get_position, fp_source_position(r->src))
READER_U64_GETTER(get_size, fp_source_size(r->src))

static PyObject *get_compression(PyObject *self, void *c)
{
    (void)c;
    fp_reader_obj *r = as_reader(self);
    const char *name = r->src ? fp_compression_name(fp_source_compression(r->src)) : NULL;
    if (name == NULL) Py_RETURN_NONE;
    return PyUnicode_FromString(name);
}

static PyObject *get_nanosecond(PyObject *self, void *c)
{
    (void)c;
    fp_reader_obj *r = as_reader(self);
    if (r->src == NULL) Py_RETURN_NONE;
    return PyBool_FromLong(fp_source_nanosecond(r->src));
}
static PyObject *get_packets_read(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(as_reader(self)->delivered);
}
static PyObject *get_frame_number(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(as_reader(self)->frames);
}

static PyObject *get_display_filter(PyObject *self, void *c)
{
    (void)c;
    PyObject *df = as_reader(self)->dfilter_obj;
    return Py_NewRef(df ? df : Py_None);
}

static PyObject *get_filtered(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(as_reader(self)->filtered);
}
static PyObject *get_error(PyObject *self, void *c)
{
    (void)c;
    PyObject *e = as_reader(self)->error;
    return Py_NewRef(e ? e : Py_None);
}
static PyObject *get_closed(PyObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(as_reader(self)->closed);
}

static PyObject *reader_repr(PyObject *self)
{
    fp_reader_obj *r = as_reader(self);
    if (r->src == NULL) return PyUnicode_FromFormat("<fastpkt.Reader %s>", r->closed ? "closed" : "uninitialised");
    return PyUnicode_FromFormat("<fastpkt.Reader %s linktype=%u packets_read=%llu%s>",
                                format_name(r->src),
                                fp_source_linktype(r->src), (unsigned long long)r->delivered,
                                r->closed ? " closed" : "");
}

static PyObject *get_facade(PyObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(as_reader(self)->facade);
}

static int set_facade(PyObject *self, PyObject *v, void *c)
{
    (void)c;
    int on = v ? PyObject_IsTrue(v) : 0;
    if (on < 0) return -1;
    as_reader(self)->facade = on;
    return 0;
}

/* ---- record-aligned ranges (csrc/source/chunk.c) ------------------------------------ */

static int range_source(PyObject *self, fp_reader_obj *r)
{
    if (r->src == NULL || r->closed) {
        PyErr_SetString(PyExc_ValueError, "I/O operation on a closed Reader");
        return -1;
    }
    return fp_readers_claim(&self, 1);
}

static PyObject *reader_split(PyObject *self, PyObject *arg)
{
    fp_reader_obj *r = as_reader(self);
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (n < 1 || n > 4096) {
        PyErr_Format(PyExc_ValueError, "ranges must be 1 to 4096, not %ld", n);
        return NULL;
    }
    uint64_t *bounds = PyMem_Malloc(((size_t)n + 1) * sizeof *bounds);
    if (bounds == NULL) return PyErr_NoMemory();
    if (range_source(self, r) < 0) {
        PyMem_Free(bounds);
        return NULL;
    }
    unsigned m;
    fp_source *src = r->src;
    Py_BEGIN_ALLOW_THREADS
    m = fp_source_split(src, (unsigned)n, bounds);
    Py_END_ALLOW_THREADS
    fp_readers_release(&self, 1);
    PyObject *out = PyList_New((Py_ssize_t)m + 1);
    for (unsigned i = 0; out && i <= m; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(bounds[i]);
        if (v == NULL) Py_CLEAR(out);
        else PyList_SET_ITEM(out, i, v);
    }
    PyMem_Free(bounds);
    return out;
}

static PyObject *reader_sync(PyObject *self, PyObject *arg)
{
    fp_reader_obj *r = as_reader(self);
    unsigned long long from = PyLong_AsUnsignedLongLong(arg);
    if (from == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    if (range_source(self, r) < 0) return NULL;
    uint64_t at;
    fp_source *src = r->src;
    Py_BEGIN_ALLOW_THREADS
    at = fp_source_sync(src, from);
    Py_END_ALLOW_THREADS
    fp_readers_release(&self, 1);
    return PyLong_FromUnsignedLongLong(at);
}

static PyObject *reader_set_range(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    fp_reader_obj *r = as_reader(self);
    if (nargs != 2 && nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_set_range(start, end, first_index=None) takes two or three arguments");
        return NULL;
    }
    unsigned long long v[3] = {0, 0, FP_KEEP_INDEX};
    for (Py_ssize_t i = 0; i < nargs; i++) {
        if (i == 2 && args[i] == Py_None) break;
        v[i] = PyLong_AsUnsignedLongLong(args[i]);
        if (PyErr_Occurred()) return NULL;
    }
    if (range_source(self, r) < 0) return NULL;
    int rc = fp_source_set_range(r->src, v[0], v[1], v[2]);
    fp_readers_release(&self, 1);
    if (rc < 0) {
        PyErr_Format(PyExc_ValueError,
                     "cannot read the range [%llu, %llu) of this Reader: ranges need a mapped file or "
                     "a memory buffer read under on_error 'raise' or 'stop', start <= end and start "
                     "at or after the position (%llu)", v[0], v[1],
                     (unsigned long long)fp_source_position(r->src));
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *reader_share_mapping(PyObject *self, PyObject *other)
{
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (!PyObject_TypeCheck(other, st->Reader_Type)) {
        PyErr_Format(PyExc_TypeError, "_share_mapping takes a Reader, not %.100s", Py_TYPE(other)->tp_name);
        return NULL;
    }
    fp_reader_obj *r = as_reader(self), *o = as_reader(other);
    if (self == other)
        Py_RETURN_FALSE;
    PyObject *both[2] = {self, other};
    if (r->src == NULL || r->closed || o->src == NULL || o->closed) {
        PyErr_SetString(PyExc_ValueError, "I/O operation on a closed Reader");
        return NULL;
    }
    if (fp_readers_claim(both, 2) < 0)
        return NULL;
    int rc = fp_source_share_mapping(r->src, o->src);
    fp_readers_release(both, 2);
    return PyBool_FromLong(rc);
}

static PyObject *get_range_exact(PyObject *self, void *c)
{
    (void)c;
    fp_reader_obj *r = as_reader(self);
    return PyBool_FromLong(r->src != NULL && fp_source_range_exact(r->src));
}

static PyObject *get_defrag_stats(PyObject *self, void *c)
{
    (void)c;
    return fp_defrag_stats_dict(as_reader(self)->defrag);
}

static PyGetSetDef reader_getset[] = {
    {"_facade", get_facade, set_facade, "Make fastpkt.scapy's packets (set by that module).", NULL},
    {"format", get_format, NULL, "'pcap' or 'pcapng'.", NULL},
    {"linktype", get_linktype, NULL, "Link type of the file (pcapng: first interface).", NULL},
    {"snaplen", get_snaplen, NULL, "Snapshot length from the file header.", NULL},
    {"nanosecond", get_nanosecond, NULL, "True for nanosecond-resolution pcap files.", NULL},
    {"packets_read", get_packets_read, NULL, "Packets delivered so far.", NULL},
    {"skipped", get_skipped, NULL, "Corrupt records skipped under on_error='skip'.", NULL},
    {"filtered", get_filtered, NULL, "Records rejected by the BPF filter or the display filter.", NULL},
    {"frame_number", get_frame_number, NULL,
     "Records read from the source so far, filtered or not: tshark's frame.number of the "
     "packet iteration returned last.", NULL},
    {"display_filter", get_display_filter, NULL, "The DisplayFilter applied after the BPF filter, or None.", NULL},
    {"position", get_position, NULL, "Bytes of input consumed (decompressed, for compressed captures).", NULL},
    {"size", get_size, NULL, "File size in bytes (0 for streams and compressed captures).", NULL},
    {"compression", get_compression, NULL, "'gzip', 'zstd', 'xz' or 'bzip2' (found by magic number), or None.", NULL},
    {"error", get_error, NULL, "The FormatError that ended iteration under on_error='stop', or None.", NULL},
    {"closed", get_closed, NULL, "True after close().", NULL},
    {"_range_exact", get_range_exact, NULL,
     "True once a range set by _set_range() was read to an end that is a record boundary\n"
     "(the next range's records then follow these exactly).", NULL},
    {"defrag_stats", get_defrag_stats, NULL,
     "defragment=True: the reassembler's counters (fragments, reassembled, timed_out, dropped, "
     "overlaps, unusable, pending), as an engine's stats['defrag'].", NULL},
    {NULL},
};

static PyMethodDef reader_methods[] = {
    {"close", reader_close, METH_NOARGS, "Release the file (idempotent)."},
    {"__enter__", reader_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))reader_exit, METH_FASTCALL, NULL},
    {"read_all", (PyCFunction)(void (*)(void))reader_read_all, METH_VARARGS | METH_KEYWORDS,
     "read_all(count=None, progress=None) -> PacketList\n\nRead the remaining packets (at most count) in C;\n"
     "progress(position, size) is called every 65,536 packets and at the end."},
    {"count", reader_count, METH_NOARGS,
     "Count the remaining packets that pass the filter, in C without creating packets."},
    {"_open_live", (PyCFunction)(void (*)(void))reader_open_live, METH_VARARGS | METH_KEYWORDS,
     "Open a live capture (used by fastpkt.Capture)."},
    {"_live_stats", reader_live_stats, METH_NOARGS, "(received, dropped, interface_dropped) or None."},
    {"_set_deadline", reader_set_deadline, METH_O, "End iteration this many seconds from now (None: never)."},
    {"_break", reader_break, METH_NOARGS, "Make a live capture's iteration end (any thread)."},
    {"_set_limit", reader_set_limit, METH_O, "Deliver at most this many more packets."},
    {"_split", reader_split, METH_O,
     "_split(n) -> list of offsets: up to n record-aligned byte ranges of an unread mapped capture\n"
     "(boundaries guessed by chaining record headers; proven by _range_exact)."},
    {"_sync", reader_sync, METH_O, "_sync(offset) -> the first likely record boundary at or after offset."},
    {"_share_mapping", reader_share_mapping, METH_O,
     "_share_mapping(other) -> bool: read this unread Reader through other's mapping of the same\n"
     "file (parallel workers: each page faults in once, not once per worker; see DESIGN)."},
    {"_set_range", (PyCFunction)(void (*)(void))reader_set_range, METH_FASTCALL,
     "_set_range(start, end, first_index=None): deliver only the records that start in [start, end);\n"
     "first_index: the number of records before start (error messages count from it)."},
    FP_VIEW_METHOD,
    FP_TABLE_METHOD("__arrow_c_stream__", fp_table_arrow_c_stream,
                    "__arrow_c_stream__(requested_schema=None): the remaining packets' columns as an Arrow\n"
                    "C stream (PacketList.to_pandas() columns, 65,536 packets a batch, bounded memory)."),
    FP_TABLE_METHOD("__arrow_c_schema__", fp_table_arrow_c_schema, "An Arrow C schema PyCapsule of the packet columns."),
    FP_TABLE_METHOD("record_batches", fp_table_record_batches,
                    "record_batches(batch_size=None): a pyarrow RecordBatchReader over the remaining packets."),
    /* The exports read the Reader like iteration does: a Reader is read once. */
    FP_TABLE_METHOD("to_pandas", fp_table_to_pandas,
                    "to_pandas(progress=None): the remaining packets as a pandas DataFrame, the columns of\n"
                    "fp.read(path).to_pandas() (consumes the Reader; progress as for fastpkt.read)."),
    FP_TABLE_METHOD("to_arrow", fp_table_to_arrow, "The remaining packets as a pyarrow Table (consumes the Reader)."),
    FP_TABLE_METHOD("to_polars", fp_table_to_polars,
                    "The remaining packets as a Polars DataFrame (consumes the Reader)."),
    FP_TABLE_METHOD("to_parquet", fp_table_to_parquet,
                    "to_parquet(path, partition_cols=None): write the remaining packets batch by batch\n"
                    "(bounded memory; consumes the Reader)."),
    FP_TABLE_METHOD("to_csv", fp_table_to_csv,
                    "to_csv(path): write the remaining packets as CSV batch by batch (consumes the Reader)."),
    {NULL},
};

PyDoc_STRVAR(reader_doc,
             "Reader(source, filter=None, on_error='raise', count=None, display_filter=None, defragment=False, "
             "decapsulate=True)\n--\n\n"
             "Lazy iterator over a pcap or pcapng capture (format found by magic number; gzip,\n"
             "zstd, xz and bzip2 compressed captures are decompressed as they are read).\n"
             "source: a path, '-' for stdin, a binary file object (read through its readinto()\n"
             "or read()), or a bytes-like capture. One Reader may feed several threads and\n"
             "engines: each packet goes to exactly one of them.\n"
             "filter: a BPF expression compiled by libpcap, applied in C.\n"
             "display_filter: a Wireshark display filter (text or DisplayFilter), applied in C\n"
             "after `filter` to the dissected packet; frame.number counts every record read.\n"
             "on_error: what to do at a corrupt or truncated record once every packet before it\n"
             "was delivered: 'raise' (FormatError/TruncatedError), 'stop' (end quietly; see\n"
             ".error) or 'skip' (resynchronise and go on; see .skipped).\n"
             "decapsulate: views are a tunnelled packet's innermost (True) or outer headers.");

static PyType_Slot reader_slots[] = {
    {Py_tp_doc, (void *)reader_doc},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, reader_init},
    {Py_tp_dealloc, reader_dealloc},
    {Py_tp_traverse, reader_traverse},
    {Py_tp_clear, reader_clear},
    {Py_tp_repr, reader_repr},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, reader_iternext},
    {Py_tp_getset, reader_getset},
    {Py_tp_methods, reader_methods},
    {0, NULL},
};

static PyType_Spec reader_spec = {
    .name = "fastpkt.Reader",
    .basicsize = sizeof(fp_reader_obj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = reader_slots,
};

int fp_reader_register(PyObject *m, fp_state *st)
{
    st->Reader_Type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &reader_spec, NULL);
    if (st->Reader_Type == NULL) return -1;
    return PyModule_AddType(m, st->Reader_Type);
}
