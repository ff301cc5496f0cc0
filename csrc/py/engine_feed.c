/* The shared dissection feed of a parallel engine run (fastpkt.parallel, `_Feed`).
 *
 * One mapped capture is cut into record-aligned windows (csrc/source/chunk.c) of about a
 * megabyte. Worker i reads and dissects windows i, i + n, i + 2n ... with its own Reader
 * (window by window, _set_range), and every worker's shard table consumes every window in
 * input order: each record is read and dissected once, and each table still sees every
 * packet (its clock, expiry and fragment table are the single table's). Windows live in
 * a ring of 2n + 2 slots; a slot is reused once every worker has consumed its window, and
 * a worker produces its next windows before it waits for someone else's, so the reading and
 * dissecting run on every worker at once while the tables follow in order.
 *
 * Windows are guesses proven by the reading (fp_source_range_exact): a window that does
 * not end exactly on the next one's start, a read error, a section or interface block, or
 * a worker that stops early fails the feed, and every worker returns at once
 * (fastpkt.parallel then runs without the feed). Record data points into each worker's
 * mapping, which stays open for the run. */
#include "pyfp.h"

#include <pthread.h>
#include <stdlib.h>

#include "engine.h"

typedef struct {
    fp_record *recs;
    fp_dissection *ds;
    fp_feed_class *cls; /* how a flow table takes each record (fp_flow_classify) */
    uint32_t n, cap;
    uint64_t win;      /* the window held, once ready */
    int ready;
    uint32_t consumed; /* workers done with it */
} feed_window;

struct fp_feed {
    PyObject_HEAD
    PyObject *readers;  /* tuple: worker i reads its windows with readers[i] */
    uint32_t workers, ring;
    int bidirectional;  /* the engines' keys, for fp_flow_classify */
    uint64_t nwin;
    uint64_t *bounds;   /* window w is [bounds[w], bounds[w + 1]) */
    feed_window *slots; /* window w in slots[w % ring] */
    uint64_t *next;     /* per worker: the next window it produces (only it writes this) */
    uint64_t freed;     /* every window below it was consumed by every worker */
    int failed;         /* FP_FEED_* */
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

#define FEED(o) ((fp_feed *)(o))

static void feed_fail(fp_feed *f, int why)
{
    pthread_mutex_lock(&f->mu);
    if (!f->failed) f->failed = why;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

void fp_feed_cancel(fp_feed *f) { feed_fail(f, FP_FEED_CANCELLED); }

/* With the lock held: `me` may fill the slot of its next window. */
static int can_produce(const fp_feed *f, uint32_t me)
{
    return f->next[me] < f->nwin && f->next[me] < f->freed + f->ring;
}

static int window_grow(feed_window *s)
{
    uint32_t cap = s->cap ? s->cap * 2 : 1024;
    fp_record *r = realloc(s->recs, (size_t)cap * sizeof *r);
    if (r == NULL) return -1;
    s->recs = r;
    fp_dissection *d = realloc(s->ds, (size_t)cap * sizeof *d);
    if (d == NULL) return -1;
    s->ds = d;
    fp_feed_class *c = realloc(s->cls, (size_t)cap * sizeof *c);
    if (c == NULL) return -1;
    s->cls = c;
    s->cap = cap;
    return 0;
}

/* Read and dissect window w into its (free) slot with worker me's Reader. */
static int produce(fp_feed *f, uint32_t me, uint64_t w)
{
    feed_window *s = &f->slots[w % f->ring];
    fp_reader_obj *r = (fp_reader_obj *)PyTuple_GET_ITEM(f->readers, me);
    if (r->src == NULL || fp_source_set_range(r->src, f->bounds[w], f->bounds[w + 1], FP_KEEP_INDEX) < 0)
        return FP_FEED_INEXACT;
    fp_error err;
    char errbuf[256];
    fp_record rec;
    int rc;
    s->n = 0;
    while ((rc = fp_reader_pull(r, &rec, &err, errbuf, sizeof errbuf)) == FP_PULL_RECORD) {
        if (s->n == s->cap && window_grow(s) < 0) return FP_FEED_NO_MEMORY;
        fp_dissection *d = &s->ds[s->n];
        fp_feed_class *c = &s->cls[s->n];
        s->recs[s->n++] = rec;
        fp_dissect_ex(rec.data, rec.caplen, rec.wirelen, rec.linktype, r->dissect_flags, d);
        /* classified while the bytes are in this core's cache: the other tables skip
         * their packets without reading them */
        c->hash = 0;
        c->kind = d->is_fragment ? FP_FLOW_FRAGMENT /* defragmented by each consumer first */
                  : (uint8_t)fp_flow_classify(&c->p, rec.data, d, rec.ts_ns, rec.wirelen, f->bidirectional,
                                              &c->hash);
    }
    /* an error, a close, a stop under on_error="stop", a range not ending on the next one */
    if (rc != FP_PULL_END || r->closed || !fp_source_range_exact(r->src)) return FP_FEED_INEXACT;
    pthread_mutex_lock(&f->mu);
    s->win = w;
    s->consumed = 0;
    s->ready = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return 0;
}

/* Produce this worker's windows while their slots are free. */
static int produce_ahead(fp_feed *f, uint32_t me)
{
    for (;;) {
        pthread_mutex_lock(&f->mu);
        int go = !f->failed && can_produce(f, me);
        pthread_mutex_unlock(&f->mu);
        if (!go) return 0;
        int why = produce(f, me, f->next[me]);
        if (why) {
            feed_fail(f, why);
            return -1;
        }
        f->next[me] += f->workers;
    }
}

static void window_done(fp_feed *f, feed_window *s)
{
    pthread_mutex_lock(&f->mu);
    s->consumed++;
    int moved = 0;
    for (feed_window *o; f->freed < f->nwin && (o = &f->slots[f->freed % f->ring])->ready &&
                         o->win == f->freed && o->consumed == f->workers; moved = 1) {
        o->ready = 0;
        f->freed++;
    }
    if (moved) pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

int fp_feed_next(fp_feed *f, uint32_t me, fp_feed_cursor *c, const fp_record **rec, const fp_dissection **d,
                 const fp_feed_class **cls)
{
    for (;;) {
        feed_window *s = c->cur;
        if (s) {
            if (c->pos < s->n) {
                *rec = &s->recs[c->pos];
                *d = &s->ds[c->pos];
                *cls = &s->cls[c->pos];
                c->pos++;
                return 1;
            }
            window_done(f, s);
            c->cur = NULL;
            c->win++;
            c->pos = 0;
        }
        if (produce_ahead(f, me) < 0) return -1;
        pthread_mutex_lock(&f->mu);
        for (;;) {
            if (f->failed) {
                pthread_mutex_unlock(&f->mu);
                return -1;
            }
            if (c->win >= f->nwin) {
                pthread_mutex_unlock(&f->mu);
                return 0;
            }
            s = &f->slots[c->win % f->ring];
            if (s->ready && s->win == c->win) {
                c->cur = s;
                break;
            }
            if (can_produce(f, me)) break;
            pthread_cond_wait(&f->cv, &f->mu);
        }
        pthread_mutex_unlock(&f->mu);
    }
}

int fp_feed_check(PyObject *feed, fp_state *st, uint32_t worker, uint32_t workers, PyObject *readers)
{
    if (!PyObject_TypeCheck(feed, st->Feed_Type)) {
        PyErr_Format(PyExc_TypeError, "_shard's feed must be a _Feed, not %.100s", Py_TYPE(feed)->tp_name);
        return -1;
    }
    fp_feed *f = FEED(feed);
    if (f->workers != workers || PyTuple_GET_SIZE(readers) != 1 ||
        PyTuple_GET_ITEM(readers, 0) != PyTuple_GET_ITEM(f->readers, worker)) {
        PyErr_SetString(PyExc_ValueError, "a fed shard (i, n, stop, feed) reads [the feed's Reader i] of n");
        return -1;
    }
    return 0;
}

/* _Feed(readers, bounds, bidirectional=True): readers[i] is worker i's (unread, mapped, no
 * display filter); bounds from Reader._split; bidirectional as the engines key flows. */
static PyObject *feed_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"readers", "bounds", "bidirectional", NULL};
    PyObject *readers, *bounds;
    int bidirectional = 1;
    fp_state *st = fp_state_from_type(type);
    if (st == NULL || !PyArg_ParseTupleAndKeywords(args, kwds, "O!O!|p:_Feed", kwlist, &PyTuple_Type, &readers,
                                                   &PyList_Type, &bounds, &bidirectional))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(readers), nb = PyList_GET_SIZE(bounds);
    if (n < 1 || n > 4096 || nb < 2) {
        PyErr_SetString(PyExc_ValueError, "_Feed needs 1 to 4096 Readers and at least one range");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PyTuple_GET_ITEM(readers, i);
        if (!PyObject_TypeCheck(o, st->Reader_Type)) {
            PyErr_Format(PyExc_TypeError, "_Feed needs Readers, got %.100s", Py_TYPE(o)->tp_name);
            return NULL;
        }
        const fp_reader_obj *r = (const fp_reader_obj *)o;
        if (r->src == NULL || r->closed || r->dfilter || r->has_limit || !fp_source_stable_data(r->src)) {
            PyErr_SetString(PyExc_ValueError, "_Feed needs open mapped Readers without a display filter or count");
            return NULL;
        }
    }
    fp_feed *f = (fp_feed *)type->tp_alloc(type, 0);
    if (f == NULL) return NULL;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->readers = Py_NewRef(readers);
    f->workers = (uint32_t)n;
    f->bidirectional = bidirectional;
    f->ring = 2 * f->workers + 2;
    f->nwin = (uint64_t)nb - 1;
    f->bounds = calloc((size_t)nb, sizeof *f->bounds);
    f->slots = calloc(f->ring, sizeof *f->slots);
    f->next = calloc((size_t)n, sizeof *f->next);
    if (f->bounds == NULL || f->slots == NULL || f->next == NULL) {
        Py_DECREF(f);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < nb; i++) {
        f->bounds[i] = PyLong_AsUnsignedLongLong(PyList_GET_ITEM(bounds, i));
        if (PyErr_Occurred() || (i && f->bounds[i] < f->bounds[i - 1])) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "_Feed: bounds must ascend");
            Py_DECREF(f);
            return NULL;
        }
    }
    for (uint32_t i = 0; i < f->workers; i++) f->next[i] = i;
    return (PyObject *)f;
}

static int feed_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(FEED(self)->readers);
    return 0;
}

static int feed_clear(PyObject *self)
{
    Py_CLEAR(FEED(self)->readers);
    return 0;
}

static void feed_dealloc(PyObject *self)
{
    fp_feed *f = FEED(self);
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    feed_clear(self);
    for (uint32_t i = 0; f->slots && i < f->ring; i++) {
        free(f->slots[i].recs);
        free(f->slots[i].ds);
        free(f->slots[i].cls);
    }
    free(f->slots);
    free(f->bounds);
    free(f->next);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *feed_cancel(PyObject *self, PyObject *unused)
{
    (void)unused;
    fp_feed *f = FEED(self);
    Py_BEGIN_ALLOW_THREADS
    fp_feed_cancel(f);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *feed_get_failed(PyObject *self, void *c)
{
    (void)c;
    fp_feed *f = FEED(self);
    int v;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&f->mu);
    v = f->failed;
    pthread_mutex_unlock(&f->mu);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(v);
}

static PyObject *feed_get_windows(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(FEED(self)->nwin);
}

static PyMethodDef feed_methods[] = {
    {"_cancel", feed_cancel, METH_NOARGS, "Stop every worker reading this feed (they return at once)."},
    {NULL},
};

static PyGetSetDef feed_getset[] = {
    {"failed", feed_get_failed, NULL,
     "0 while every window was proven; 1 a window was not (inexact end, read error, close),\n"
     "2 out of memory, 3 cancelled (a worker stopped early).", NULL},
    {"windows", feed_get_windows, NULL, "How many windows the capture was cut into.", NULL},
    {NULL},
};

PyDoc_STRVAR(feed_doc, "_Feed(readers, bounds): the shared dissection feed of fastpkt.parallel (private).\n"
                       "Engines made with _shard=(i, n, stop, feed) over [readers[i]] read their packets from it.");

static PyType_Slot feed_slots[] = {
    {Py_tp_doc, (void *)feed_doc},
    {Py_tp_new, feed_new},
    {Py_tp_dealloc, feed_dealloc},
    {Py_tp_traverse, feed_traverse},
    {Py_tp_clear, feed_clear},
    {Py_tp_methods, feed_methods},
    {Py_tp_getset, feed_getset},
    {0, NULL},
};

static PyType_Spec feed_spec = {
    .name = "fastpkt._Feed",
    .basicsize = sizeof(fp_feed),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = feed_slots,
};

int fp_feed_register(PyObject *m, fp_state *st)
{
    st->Feed_Type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &feed_spec, NULL);
    if (st->Feed_Type == NULL) return -1;
    return PyModule_AddType(m, st->Feed_Type);
}
