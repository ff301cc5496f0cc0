/* The shared dissection feed of a parallel engine run (fastpkt.parallel, `_Feed`).
 *
 * One mapped capture is cut into record-aligned windows of about `window` bytes (128 KiB
 * by default; cuts found lazily by each window's producer, for a file of any size). Worker
 * i reads, dissects and keys windows i, i + n, i + 2n ... with its own Reader
 * (_set_range), and every worker's shard table consumes every window in input order: each
 * record is read and dissected once, and each table still sees every packet (its clock,
 * expiry and fragment table are the single table's). Windows live in a ring of 2n slots;
 * a slot is reused once every worker has consumed its window, and a worker produces its
 * next windows before it waits for someone else's, so reading and dissecting run on every
 * worker at once while the tables follow in order, and small windows stay in cache between
 * their producer and their consumers.
 *
 * Cuts are guesses (a payload can imitate record headers), proven in input order by the
 * first worker to reach each window: a window holds the sequential read's records when it
 * started where the one before stopped (the record after its last) and was read to its
 * end without error, section or interface block. One that started elsewhere is read again
 * from there by a spare Reader while the others wait (a wrong cut costs one window's read,
 * never a record); an error or an interface declared mid-file fails the feed, and so does a
 * worker that stops early: every worker returns at once and fastpkt.parallel runs without
 * the feed. Record data points into the readers' mappings, open for the run; their pages
 * are given back once every worker has consumed the windows there. */
#include "pyfp.h"

#include <pthread.h>
#include <stdlib.h>

#include "engine.h"
#include "../filter/filter.h"

typedef struct {
    fp_record *recs;
    fp_dissection *ds;
    fp_feed_class *cls; /* how a flow table takes each record (fp_flow_classify) */
    fp_feed_pass *pass; /* what every table reads of each record */
    uint32_t n, cap;
    uint64_t win;      /* the window held, once ready */
    int ready;
    uint32_t consumed; /* workers done with it */
    const fp_source *src; /* the producer's, and the window's bytes in it */
    uint64_t start, end;
    uint64_t stop;     /* where the record after the last one starts */
    int clean;         /* read to the end without error or layout block (see fill) */
    size_t charged;    /* the arrays' size, as charged to the producer's budget */
} feed_window;

struct fp_feed {
    PyObject_HEAD
    PyObject *readers;  /* tuple: worker i reads its windows with readers[i] */
    PyObject *fixer;    /* a Reader that reads windows again from their true start (prove) */
    uint32_t workers, ring;
    int bidirectional;  /* the engines' keys, for fp_flow_classify */
    uint64_t first, size, window, nwin;
    feed_window *slots; /* window w in slots[w % ring] */
    uint64_t *next;     /* per worker: the next window it produces (only it writes this) */
    fp_budget **budgets; /* per worker: its engine's, charged for the slots it fills */
    uint64_t freed;     /* every window below it was consumed by every worker */
    uint64_t released;  /* the mappings gave back their pages below this offset */
    uint64_t proven;    /* every window below it holds the sequential read's records ... */
    uint64_t expect;    /* ... the last ending where this record starts */
    int fixing;         /* a window is being read again */
    uint64_t redone;    /* windows read again */
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
    fp_feed_pass *p = realloc(s->pass, (size_t)cap * sizeof *p);
    if (p == NULL) return -1;
    s->pass = p;
    s->cap = cap;
    return 0;
}

/* Window w holds the records starting in [its start, its end): the end is the raw offset
 * (w + 1) * window, the start the first likely record at or after w * window as the
 * producer's source guesses it (fp_source_sync, in pages it reads next). The window before
 * stops at the first true record at or after that same offset, so a right guess is where it
 * stopped; a wrong one (a payload imitating record headers, or a record or run of garbage
 * longer than a window) is caught by prove(). */
static uint64_t window_offset(const fp_feed *f, uint64_t w)
{
    return w >= f->nwin ? f->size : f->first + w * f->window;
}

static uint64_t window_start(const fp_feed *f, const fp_source *src, uint64_t w)
{
    return w == 0 ? f->first : fp_source_sync(src, window_offset(f, w));
}

/* Read, dissect and key the records starting in [start, end) into slot s with Reader r.
 * s->clean: read to the end without error, section or interface block (the records are the
 * sequential read's if start was a true record start); s->stop: where the next record starts. */
static int fill(fp_feed *f, feed_window *s, fp_reader_obj *r, uint64_t start, uint64_t end)
{
    s->n = 0;
    s->clean = 0;
    s->src = r->src;
    s->start = start;
    s->end = end;
    s->stop = start;
    if (start >= end) { /* nothing starts here: the window before ran past this one's end */
        s->clean = 1;
        return 0;
    }
    if (r->src == NULL || fp_source_set_range(r->src, start, end, FP_KEEP_INDEX) < 0)
        return 0; /* e.g. after an error in a window that started on a false cut: redone */
    fp_error err;
    char errbuf[256];
    fp_record rec;
    int rc;
    while ((rc = fp_reader_pull(r, &rec, &err, errbuf, sizeof errbuf)) == FP_PULL_RECORD) {
        if (s->n == s->cap && window_grow(s) < 0) return FP_FEED_NO_MEMORY;
        fp_dissection *d = &s->ds[s->n];
        fp_feed_class *c = &s->cls[s->n];
        fp_feed_pass *p = &s->pass[s->n];
        s->recs[s->n++] = rec;
        if (r->dfilter) *d = r->dissection; /* the filter's, whole (keep_dissection) */
        else fp_dissect_ex(rec.data, rec.caplen, rec.wirelen, rec.linktype, r->dissect_flags | FP_DISSECT_FCS(rec.fcs_len), d);
        /* classified while the bytes are in this core's cache: the other tables skip
         * their packets without reading them */
        c->hash = 0;
        c->kind = d->is_fragment ? FP_FLOW_FRAGMENT /* defragmented by each consumer first */
                  : (uint8_t)fp_flow_classify(&c->p, rec.data, d, rec.ts_ns, rec.wirelen, f->bidirectional,
                                              &c->hash);
        *p = (fp_feed_pass){.ts_ns = rec.ts_ns,
                            .wirelen = rec.wirelen,
                            .shard = c->kind == FP_FLOW_KEYED ? (uint16_t)fp_flow_shard(&c->p.key, f->workers) : 0,
                            .kind = c->kind,
                            .anomalous = d->anomalies != 0};
    }
    s->clean = rc == FP_PULL_END && !r->closed && fp_source_range_clean(r->src);
    s->stop = fp_source_position(r->src);
    return 0;
}

static size_t slot_bytes(const feed_window *s)
{
    return fp_alloc_size(s->recs) + fp_alloc_size(s->ds) + fp_alloc_size(s->cls) + fp_alloc_size(s->pass);
}

/* Worker me's budget follows the arrays of its slots (window w is in slot w % 2n, made by
 * worker w % n: each slot has one producer, whose thread alone touches its budget). A slot
 * the fixer grew while another worker proved it is charged at its producer's next fill. */
static void charge_slot(fp_feed *f, uint32_t me, feed_window *s)
{
    fp_budget *b = f->budgets[me];
    size_t now = slot_bytes(s);
    if (b == NULL || now == s->charged) return;
    if (now > s->charged) fp_budget_charge(b, FP_MEM_ENGINE, now - s->charged);
    else fp_budget_credit(b, FP_MEM_ENGINE, s->charged - now);
    s->charged = now;
}

void fp_feed_attach(fp_feed *f, uint32_t worker, fp_budget *b)
{
    if (worker < f->workers) f->budgets[worker] = b;
}

void fp_feed_detach(fp_feed *f, const fp_budget *b)
{
    for (uint32_t i = 0; i < f->workers; i++)
        if (f->budgets[i] == b) f->budgets[i] = NULL;
}

/* Fill window w's (free) slot with worker me's Reader and publish it. */
static int produce(fp_feed *f, uint32_t me, uint64_t w)
{
    feed_window *s = &f->slots[w % f->ring];
    fp_reader_obj *r = (fp_reader_obj *)PyTuple_GET_ITEM(f->readers, me);
    if (r->src == NULL) return FP_FEED_INEXACT;
    int why = fill(f, s, r, window_start(f, r->src, w), window_offset(f, w + 1));
    charge_slot(f, me, s);
    if (why) return why;
    pthread_mutex_lock(&f->mu);
    s->win = w;
    s->consumed = 0;
    s->ready = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return 0;
}

/* With the lock held, by the first worker to reach window w = f->proven (every window
 * before it holds the sequential read's records, the last ending where the next record
 * starts: f->expect). A window that started there and was read cleanly is proven; one cut
 * elsewhere (a payload imitating record headers) or read after such a window's error is
 * read again from f->expect with the fixer Reader, while the others wait. Returns 0, or -1
 * when even that read is not clean (an error, a section or interface block mid-file:
 * fastpkt.parallel runs without the feed). */
static int prove(fp_feed *f, feed_window *s)
{
    if (!(s->start == f->expect && s->clean)) {
        const fp_source *old = s->src;
        uint64_t old_start = s->start, old_end = s->end;
        f->fixing = 1;
        pthread_mutex_unlock(&f->mu);
        fp_source_release_span(old, old_start, old_end);
        int why = fill(f, s, (fp_reader_obj *)f->fixer, f->expect, old_end);
        pthread_mutex_lock(&f->mu);
        f->fixing = 0;
        f->redone++;
        pthread_cond_broadcast(&f->cv);
        if (why || !s->clean) {
            if (!f->failed) f->failed = why ? why : FP_FEED_INEXACT;
            return -1;
        }
    }
    f->expect = s->stop;
    f->proven++;
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

/* Every mapping gives back its pages of [from, to) of the file: no window there is read any
 * more. The readers keep their pages (fp_source_keep_pages: they would give a window back as
 * it ends, before the others consumed it); once per RELEASE_BYTES keeps the TLB flushes rare. */
#define RELEASE_BYTES (32u << 20)
static void release_mappings(fp_feed *f, uint64_t from, uint64_t to)
{
    for (uint32_t i = 0; i < f->workers; i++) {
        const fp_reader_obj *r = (const fp_reader_obj *)PyTuple_GET_ITEM(f->readers, i);
        if (r->src) fp_source_release_span(r->src, from, to);
    }
    const fp_reader_obj *fx = (const fp_reader_obj *)f->fixer;
    if (fx->src) fp_source_release_span(fx->src, from, to);
}

static void window_done(fp_feed *f, feed_window *s)
{
    pthread_mutex_lock(&f->mu);
    int moved = 0;
    uint64_t from = f->released, to = from;
    if (++s->consumed == f->workers)
        for (feed_window *o; f->freed < f->nwin && (o = &f->slots[f->freed % f->ring])->ready &&
                             o->win == f->freed && o->consumed == f->workers; moved = 1) {
            o->ready = 0;
            f->freed++;
            to = o->start; /* below it, every window was read by every worker */
        }
    if (moved && to >= from + RELEASE_BYTES) f->released = to;
    else to = from;
    if (moved) pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (to > from) release_mappings(f, from, to);
}

/* Make slot s the cursor's window. */
static void cursor_enter(fp_feed_cursor *c, feed_window *s)
{
    c->cur = s;
    c->pos = 0;
    c->n = s->n;
    c->pass = s->pass;
    c->recs = s->recs;
    c->ds = s->ds;
    c->cls = s->cls;
}

int fp_feed_advance(fp_feed *f, uint32_t me, fp_feed_cursor *c)
{
    for (;;) {
        feed_window *s = c->cur;
        if (s) {
            if (c->pos < s->n) return 1;
            window_done(f, s);
            c->cur = NULL;
            c->win++;
            c->pos = c->n = 0;
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
            if (s->ready && s->win == c->win && c->win < f->proven) {
                cursor_enter(c, s);
                break;
            }
            if (s->ready && s->win == c->win && !f->fixing) {
                if (prove(f, s) < 0) continue; /* failed: returns above */
                cursor_enter(c, s);
                break;
            }
            if (can_produce(f, me)) break;
            pthread_cond_wait(&f->cv, &f->mu);
        }
        pthread_mutex_unlock(&f->mu);
    }
}

int fp_feed_check(PyObject *feed, fp_state *st, uint32_t worker, uint32_t workers, PyObject *readers,
                  int bidirectional)
{
    if (!PyObject_TypeCheck(feed, st->Feed_Type)) {
        PyErr_Format(PyExc_TypeError, "_shard's feed must be a _Feed, not %.100s", Py_TYPE(feed)->tp_name);
        return -1;
    }
    fp_feed *f = FEED(feed);
    if (f->workers != workers || PyTuple_GET_SIZE(readers) != 1 ||
        PyTuple_GET_ITEM(readers, 0) != PyTuple_GET_ITEM(f->readers, worker) || f->bidirectional != bidirectional) {
        PyErr_SetString(PyExc_ValueError, "a fed shard (i, n, stop, feed) reads [the feed's Reader i] of n, "
                                          "keyed as the feed keys (bidirectional), and all n run at once");
        return -1;
    }
    return 0;
}

/* A Reader the feed may use: open, mapped (or a memory buffer), not yet read, read under
 * on_error raise or stop (a resync under skip depends on what came before), without a
 * count, and with the display filter of the others (`like`), which must not read
 * frame.number (it counts from the start, while a window's producer starts mid-input;
 * any other field is the record's own, so the producer decides the match). */
static int feed_reader_ok(fp_state *st, PyObject *o, const fp_reader_obj *like)
{
    if (!PyObject_TypeCheck(o, st->Reader_Type)) {
        PyErr_Format(PyExc_TypeError, "_Feed needs Readers, got %.100s", Py_TYPE(o)->tp_name);
        return 0;
    }
    const fp_reader_obj *r = (const fp_reader_obj *)o;
    int same_filter = r->dfilter == NULL ? like->dfilter == NULL
                                         : like->dfilter != NULL && !fp_filter_needs_number(r->dfilter) &&
                                               PyObject_RichCompareBool(((FpDisplayFilter *)r->dfilter_obj)->expression,
                                                                        ((FpDisplayFilter *)like->dfilter_obj)->expression,
                                                                        Py_EQ) == 1;
    if (r->src == NULL || r->closed || !same_filter || r->has_limit || r->delivered ||
        r->policy == FP_ON_ERROR_SKIP || !fp_source_stable_data(r->src) || !fp_source_size(r->src)) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "_Feed needs unread mapped Readers without a count or "
                                          "on_error='skip', with one display filter that does not read "
                                          "frame.number");
        return 0;
    }
    return 1;
}

/* _Feed(readers, fixer, window, bidirectional=True): readers[i] is worker i's, the fixer
 * one more Reader of the same capture (for windows read again), window the bytes per
 * window; bidirectional as the engines key flows. */
static PyObject *feed_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"readers", "fixer", "window", "bidirectional", NULL};
    PyObject *readers, *fixer;
    unsigned long long window;
    int bidirectional = 1;
    fp_state *st = fp_state_from_type(type);
    if (st == NULL || !PyArg_ParseTupleAndKeywords(args, kwds, "O!OK|p:_Feed", kwlist, &PyTuple_Type, &readers, &fixer,
                                                   &window, &bidirectional))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(readers);
    if (n < 1 || n > 4096 || window < 1) { /* shard numbers fit fp_feed_pass */
        PyErr_SetString(PyExc_ValueError, "_Feed needs 1 to 4096 Readers and a window of at least one byte");
        return NULL;
    }
    if (!PyObject_TypeCheck(fixer, st->Reader_Type)) {
        PyErr_Format(PyExc_TypeError, "_Feed needs Readers, got %.100s", Py_TYPE(fixer)->tp_name);
        return NULL;
    }
    const fp_reader_obj *like = (const fp_reader_obj *)fixer;
    if (!feed_reader_ok(st, fixer, like)) return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        if (!feed_reader_ok(st, PyTuple_GET_ITEM(readers, i), like)) return NULL;
    fp_feed *f = (fp_feed *)type->tp_alloc(type, 0);
    if (f == NULL) return NULL;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->readers = Py_NewRef(readers);
    f->fixer = Py_NewRef(fixer);
    f->workers = (uint32_t)n;
    f->bidirectional = bidirectional;
    f->ring = 2 * f->workers;
    const fp_source *src = ((fp_reader_obj *)fixer)->src;
    f->first = fp_source_position(src);
    f->expect = f->first;
    f->size = fp_source_size(src);
    f->window = window;
    f->nwin = f->size > f->first ? (f->size - f->first + window - 1) / window : 0;
    f->slots = calloc(f->ring, sizeof *f->slots);
    f->next = calloc((size_t)n, sizeof *f->next);
    f->budgets = calloc((size_t)n, sizeof *f->budgets);
    if (f->slots == NULL || f->next == NULL || f->budgets == NULL) {
        Py_DECREF(f);
        return PyErr_NoMemory();
    }
    for (uint32_t i = 0; i < f->workers; i++) {
        f->next[i] = i;
        /* a display filter's dissection is the one stored: whole, as the engines read it */
        ((fp_reader_obj *)PyTuple_GET_ITEM(readers, i))->keep_dissection = 1;
        /* a window's pages stay until every worker has consumed it: release_mappings */
        fp_source_keep_pages(((fp_reader_obj *)PyTuple_GET_ITEM(readers, i))->src);
    }
    fp_source_keep_pages(((fp_reader_obj *)fixer)->src);
    ((fp_reader_obj *)fixer)->keep_dissection = 1;
    return (PyObject *)f;
}

static int feed_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(FEED(self)->readers);
    Py_VISIT(FEED(self)->fixer);
    return 0;
}

static int feed_clear(PyObject *self)
{
    Py_CLEAR(FEED(self)->readers);
    Py_CLEAR(FEED(self)->fixer);
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
        free(f->slots[i].pass);
    }
    free(f->slots);
    free(f->next);
    free(f->budgets);
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

static PyObject *feed_get_redone(PyObject *self, void *c)
{
    (void)c;
    fp_feed *f = FEED(self);
    uint64_t v;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&f->mu);
    v = f->redone;
    pthread_mutex_unlock(&f->mu);
    Py_END_ALLOW_THREADS
    return PyLong_FromUnsignedLongLong(v);
}

static PyMethodDef feed_methods[] = {
    {"_cancel", feed_cancel, METH_NOARGS, "Stop every worker reading this feed (they return at once)."},
    {NULL},
};

static PyGetSetDef feed_getset[] = {
    {"failed", feed_get_failed, NULL,
     "0 while every window was proven; 1 a window was not, even read again from the true record\n"
     "start (a read error, a section or interface block mid-file, a close),\n"
     "2 out of memory, 3 cancelled (a worker stopped early).", NULL},
    {"windows", feed_get_windows, NULL, "How many windows the capture was cut into.", NULL},
    {"redone", feed_get_redone, NULL, "Windows read again from the true record start (a cut was wrong).", NULL},
    {NULL},
};

PyDoc_STRVAR(feed_doc, "_Feed(readers, fixer, window, bidirectional=True): the shared dissection feed of\n"
                       "fastpkt.parallel (private): worker i reads windows of about `window` bytes with\n"
                       "readers[i]; the fixer reads a window again from the true record start when a cut\n"
                       "was wrong.\n"
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
