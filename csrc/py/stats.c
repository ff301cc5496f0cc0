/* _fastpkt._stats(reader, ...): the one-pass statistics engine (csrc/stats) over a Reader,
 * run with the GIL released in batches, its tables handed back as column specs
 * (fastpkt.frames) that fastpkt/stats.py turns into DataFrames and Arrow streams. */
#include "pyfp.h"

#include <string.h>

#include "../flow/ip_defrag.h"
#include "../stats/stats.h"

#define STATS_BATCH 65536u

typedef struct {
    fp_stats *st;
    fp_defrag *defrag; /* made at the first fragment when the Reader defragments */
    fp_budget budget;
    PyObject *filters; /* tuple of DisplayFilter (owners of the programs) */
    const fp_filter **programs;
} stats_run;

static void stats_run_clear(stats_run *run)
{
    fp_stats_free(run->st);
    fp_defrag_free(run->defrag);
    PyMem_Free(run->programs);
    Py_XDECREF(run->filters);
}

static int compile_filters(fp_state *st, PyObject *seq, stats_run *run)
{
    PyObject *fast = PySequence_Fast(seq, "filters must be a sequence of display filters");
    if (fast == NULL) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    run->filters = PyTuple_New(n);
    run->programs = PyMem_Calloc(n ? (size_t)n : 1, sizeof *run->programs);
    if (run->filters == NULL || run->programs == NULL) {
        Py_DECREF(fast);
        if (run->programs == NULL) PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = fp_display_filter_from(st, PySequence_Fast_GET_ITEM(fast, i));
        if (f == NULL) {
            Py_DECREF(fast);
            return -1;
        }
        PyTuple_SET_ITEM(run->filters, i, f);
        run->programs[i] = ((FpDisplayFilter *)f)->filter;
    }
    Py_DECREF(fast);
    return (int)n;
}

/* IP reassembly as tshark does it by default: a fragment of a datagram still incomplete counts
 * as its link and IP headers and data (its transport header is the datagram's, not its own);
 * the fragment completing one counts with the datagram's protocols and its own frame length.
 * Fragments that cannot be used count as captured. Returns the dissection to count and sets
 * *data, *caplen to the bytes it describes. */
static const fp_dissection *defragment(stats_run *run, int policy, int flags, const fp_record *rec,
                                       const fp_dissection *dp, uint64_t frame, fp_dissection *held,
                                       fp_dissection *whole, const uint8_t **data, uint32_t *caplen)
{
    if (run->defrag == NULL) {
        uint64_t cap = run->budget.limit ? run->budget.limit / 8 : FP_DEFRAG_MAX_BYTES;
        fp_defrag_config cfg = {(fp_defrag_policy)policy, FP_DEFRAG_TIMEOUT_NS,
                                cap < FP_DEFRAG_MAX_BYTES ? cap : FP_DEFRAG_MAX_BYTES};
        if ((run->defrag = fp_defrag_new(&cfg, &run->budget)) == NULL) return dp;
    }
    fp_defrag_result res;
    switch (fp_defrag_add(run->defrag, rec->data, rec->caplen, dp, rec->ts_ns, frame, &res)) {
    case FP_DEFRAG_HELD:
        *held = *dp;
        fp_defrag_hide_upper(held);
        return held;
    case FP_DEFRAG_COMPLETE:
        fp_dissect_datagram(res.data, res.len, rec->linktype, flags, whole);
        whole->anomalies |= res.anomalies;
        *data = res.data;
        *caplen = res.len;
        return whole;
    default:
        return dp;
    }
}

/* Pull, dissect and count every record of the Reader (GIL released per batch). */
static int run_reader(fp_state *st, PyObject *reader, stats_run *run, PyObject *progress)
{
    fp_reader_obj *r = (fp_reader_obj *)reader;
    if (r->src == NULL || r->closed) return 0;
    r->keep_dissection = 1; /* the display filter's dissection is the one counted */
    fp_record rec;
    fp_error err;
    char errbuf[512];
    int rc;
    for (;;) {
        if (fp_readers_claim(&reader, 1) < 0) return -1;
        Py_BEGIN_ALLOW_THREADS
        fp_dissection d, held, whole;
        unsigned n = 0;
        while (n++ < STATS_BATCH && (rc = fp_reader_pull_reassembling(r, &rec, &err, errbuf, sizeof errbuf)) == FP_PULL_RECORD) {
            const fp_dissection *dp = &r->dissection;
            if (r->dfilter == NULL) {
                fp_dissect_ex(rec.data, rec.caplen, rec.wirelen, rec.linktype, r->dissect_flags | FP_DISSECT_FCS(rec.fcs_len), &d);
                dp = &d;
            }
            const uint8_t *data = rec.data;
            uint32_t caplen = rec.caplen;
            if (dp->is_fragment && r->defrag_policy >= 0)
                dp = defragment(run, r->defrag_policy, r->dissect_flags, &rec, dp, r->frames, &held, &whole,
                                &data, &caplen);
            if (FP_READER_FILTERS_AFTER_DEFRAG(r) && !fp_reader_match_reassembled(r, &rec, data, caplen, dp)) continue;
            fp_stats_add(run->st, data, caplen, rec.wirelen, rec.linktype, rec.ts_ns, rec.has_ts,
                         r->frames, dp);
        }
        if (n > STATS_BATCH) rc = FP_PULL_RECORD; /* batch done, more to come */
        Py_END_ALLOW_THREADS
        int failed = 0;
        if (rc != FP_PULL_RECORD && rc != FP_PULL_IDLE)
            failed = fp_reader_pull_finish(r, st, rc, &rec, &err, errbuf) < 0;
        fp_readers_release(&reader, 1);
        if (failed || PyErr_CheckSignals() < 0) return -1;
        if (fp_reader_report_progress(r, progress) < 0) return -1; /* the last call too: a bar ends at the file's end */
        if (rc != FP_PULL_RECORD && rc != FP_PULL_IDLE) return 0;
    }
}

/* ---- results as column specs ------------------------------------------------------- */

static PyObject *u64_spec(const char *name, const uint64_t *v, size_t n, size_t stride)
{
    PyObject *buf = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(n * 8));
    if (buf == NULL) return NULL;
    uint64_t *out = (uint64_t *)PyByteArray_AS_STRING(buf);
    for (size_t i = 0; i < n; i++) out[i] = v[i * stride];
    return Py_BuildValue("(ssN)", name, "<u8", buf);
}

static PyObject *addr_str(const fp_conv *c, const uint8_t *a, uint16_t port, int with_port)
{
    PyObject *s = c->alen == 6 ? fp_mac_str(a) : c->alen == 4 ? fp_ip4_str(a) : fp_ip6_str(a);
    if (s == NULL || !with_port) return s;
    PyObject *out = PyUnicode_FromFormat("%U:%u", s, (unsigned)port);
    Py_DECREF(s);
    return out;
}

/* One conversation table: a, b, frames/bytes each way, first/last packet time. */
static PyObject *conv_specs(const fp_conv_table *t, int layer)
{
    int ports = layer == FP_CONV_TCP || layer == FP_CONV_UDP;
    size_t n = t->n;
    PyObject *a = PyList_New((Py_ssize_t)n), *b = PyList_New((Py_ssize_t)n);
    PyObject *num[6] = {NULL};
    const char *names[6] = {"frames_ab", "bytes_ab", "frames_ba", "bytes_ba", "first_ns", "last_ns"};
    PyObject *out = NULL;
    if (a == NULL || b == NULL) goto done;
    for (size_t i = 0; i < n; i++) {
        const fp_conv *c = &t->rows[i];
        PyObject *sa = addr_str(c, c->a, c->port_a, ports), *sb = sa ? addr_str(c, c->b, c->port_b, ports) : NULL;
        if (sb == NULL) {
            Py_XDECREF(sa);
            goto done;
        }
        PyList_SET_ITEM(a, (Py_ssize_t)i, sa);
        PyList_SET_ITEM(b, (Py_ssize_t)i, sb);
    }
    for (int k = 0; k < 6; k++) {
        PyObject *buf = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(n * 8));
        if (buf == NULL) goto done;
        uint64_t *o = (uint64_t *)PyByteArray_AS_STRING(buf);
        for (size_t i = 0; i < n; i++) {
            const fp_conv *c = &t->rows[i];
            uint64_t v[6] = {c->frames_ab, c->bytes_ab, c->frames_ba, c->bytes_ba, (uint64_t)c->first_ns,
                             (uint64_t)c->last_ns};
            o[i] = v[k];
        }
        num[k] = Py_BuildValue("(ssN)", names[k], k >= 4 ? "<i8" : "<u8", buf);
        if (num[k] == NULL) goto done;
    }
    out = Py_BuildValue("[(ssO)(ssO)OOOOOO]", "a", "str", a, "b", "str", b, num[0], num[1], num[2], num[3],
                        num[4], num[5]);
done:
    Py_XDECREF(a);
    Py_XDECREF(b);
    for (int k = 0; k < 6; k++) Py_XDECREF(num[k]);
    return out;
}

/* The hierarchy depth first, children in order of first sight: (depth, protocol, frames, bytes). */
static PyObject *phs_rows(const fp_stats *s)
{
    PyObject *rows = PyList_New(0);
    if (rows == NULL) return NULL;
    uint16_t stack[FP_PHS_MAX_NODES];
    int top = 0;
    for (uint16_t c = s->phs[0].first_child; c; c = s->phs[c].next_sibling) stack[top++] = c;
    /* reverse so the first child is popped first */
    for (int i = 0; i < top / 2; i++) {
        uint16_t t = stack[i];
        stack[i] = stack[top - 1 - i];
        stack[top - 1 - i] = t;
    }
    while (top > 0) {
        const fp_phs_node *nd = &s->phs[stack[--top]];
        if (fp_list_append_new(rows, Py_BuildValue("(isKK)", nd->depth, fp_phs_names[nd->proto],
                                                   (unsigned long long)nd->frames,
                                                   (unsigned long long)nd->bytes)) < 0) {
            Py_DECREF(rows);
            return NULL;
        }
        int from = top;
        for (uint16_t c = nd->first_child; c; c = s->phs[c].next_sibling) stack[top++] = c;
        for (int i = from, j = top - 1; i < j; i++, j--) {
            uint16_t t = stack[i];
            stack[i] = stack[j];
            stack[j] = t;
        }
    }
    return rows;
}

static PyObject *counter_dict(const fp_stats_counter *c)
{
    PyObject *d = PyDict_New();
    for (uint16_t i = 0; d && i < c->n; i++) {
        PyObject *k = PyLong_FromLong(c->keys[i]), *v = PyLong_FromUnsignedLongLong(c->counts[i]);
        int bad = k == NULL || v == NULL || PyDict_SetItem(d, k, v) < 0;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (bad) Py_CLEAR(d);
    }
    return d;
}

static PyObject *array_dict(const uint64_t *v, int n)
{
    PyObject *d = PyDict_New();
    for (int i = 0; d && i < n; i++) {
        if (v[i] == 0) continue;
        PyObject *k = PyLong_FromLong(i), *x = PyLong_FromUnsignedLongLong(v[i]);
        int bad = k == NULL || x == NULL || PyDict_SetItem(d, k, x) < 0;
        Py_XDECREF(k);
        Py_XDECREF(x);
        if (bad) Py_CLEAR(d);
    }
    return d;
}

static PyObject *dns_result(const fp_dns_tree *t)
{
    return Py_BuildValue("{sKsKsKsNsNsNsNsK}", "packets", (unsigned long long)t->packets, "queries",
                         (unsigned long long)t->queries, "responses", (unsigned long long)t->responses,
                         "rcode", array_dict(t->rcode, 16), "opcode", array_dict(t->opcode, 16), "qtype",
                         counter_dict(&t->qtype), "qclass", counter_dict(&t->qclass), "cut",
                         (unsigned long long)(t->qtype.cut + t->qclass.cut));
}

static PyObject *http_result(const fp_http_tree *t)
{
    PyObject *methods = PyDict_New();
    for (uint16_t i = 0; methods && i < t->nmethods; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(t->method_counts[i]);
        if (v == NULL || PyDict_SetItemString(methods, t->methods[i], v) < 0) Py_CLEAR(methods);
        Py_XDECREF(v);
    }
    return Py_BuildValue("{sKsKsKsKsNsNsK}", "packets", (unsigned long long)t->packets, "requests",
                         (unsigned long long)t->requests, "responses", (unsigned long long)t->responses,
                         "other", (unsigned long long)t->other, "methods", methods, "status",
                         array_dict(t->status, 1000), "cut", (unsigned long long)t->methods_cut);
}

static PyObject *io_result(const fp_stats *s)
{
    size_t ncols = 1 + s->cfg.nfilters;
    PyObject *cols = PyList_New(0);
    for (size_t c = 0; cols && c < ncols; c++) {
        char fname[32], bname[32];
        snprintf(fname, sizeof fname, c ? "frames_%zu" : "frames", c);
        snprintf(bname, sizeof bname, c ? "bytes_%zu" : "bytes", c);
        if (fp_list_append_new(cols, s->io_n ? u64_spec(fname, s->io_frames + c, s->io_n, ncols)
                                             : u64_spec(fname, NULL, 0, 1)) < 0 ||
            fp_list_append_new(cols, s->io_n ? u64_spec(bname, s->io_bytes + c, s->io_n, ncols)
                                             : u64_spec(bname, NULL, 0, 1)) < 0)
            Py_CLEAR(cols);
    }
    if (cols == NULL) return NULL;
    return Py_BuildValue("{sLsN}", "base", (long long)s->io_base, "columns", cols);
}

/* [(name, packets)] in the table's slot order (Python sorts); names as UTF-8, replaced
 * where they are not (as the PacketList's text columns). */
static PyObject *names_result(const fp_name_table *t)
{
    PyObject *out = PyList_New(0);
    for (size_t i = 0; out != NULL && i < t->cap; i++) {
        const fp_name_slot *sl = &t->slots[i];
        if (sl->count == 0) continue;
        PyObject *row = Py_BuildValue("(NK)", PyUnicode_DecodeUTF8((const char *)t->bytes + sl->off,
                                                                    (Py_ssize_t)sl->len, "replace"),
                                      (unsigned long long)sl->count);
        if (row == NULL || PyList_Append(out, row) < 0) Py_CLEAR(out);
        Py_XDECREF(row);
    }
    return out;
}

static PyObject *results(const fp_stats *s, const fp_budget *budget)
{
    PyObject *conv = PyDict_New(), *cut = PyDict_New();
    if (conv == NULL || cut == NULL) goto fail;
    for (int l = 0; l < FP_CONV_LAYERS; l++) {
        PyObject *specs = conv_specs(&s->conv[l], l);
        if (specs == NULL || PyDict_SetItemString(conv, fp_conv_layer_names[l], specs) < 0) {
            Py_XDECREF(specs);
            goto fail;
        }
        Py_DECREF(specs);
        char name[16];
        snprintf(name, sizeof name, "conv_%s", fp_conv_layer_names[l]);
        PyObject *v = PyLong_FromUnsignedLongLong(s->conv[l].cut_frames);
        if (v == NULL || PyDict_SetItemString(cut, name, v) < 0) {
            Py_XDECREF(v);
            goto fail;
        }
        Py_DECREF(v);
    }
    PyObject *more = Py_BuildValue("{sKsKsKsKsK}", "phs", (unsigned long long)s->phs_cut, "io",
                                   (unsigned long long)s->io_cut, "dns", (unsigned long long)(s->dns.qtype.cut + s->dns.qclass.cut),
                                   "http", (unsigned long long)s->http.methods_cut, "allocation_failed",
                                   (unsigned long long)s->alloc_failures);
    if (more != NULL) {
        PyObject *a = PyLong_FromUnsignedLongLong(s->dns_names.cut);
        PyObject *b = PyLong_FromUnsignedLongLong(s->http_hosts.cut);
        if (a == NULL || b == NULL || PyDict_SetItemString(more, "dns_names", a) < 0 ||
            PyDict_SetItemString(more, "http_hosts", b) < 0)
            Py_CLEAR(more);
        Py_XDECREF(a);
        Py_XDECREF(b);
    }
    if (more == NULL || PyDict_Update(cut, more) < 0) {
        Py_XDECREF(more);
        goto fail;
    }
    Py_DECREF(more);
    return Py_BuildValue("{sKsKsLsLsNsNsNsNsNsNsKsNsN}", "frames", (unsigned long long)s->frames, "bytes",
                         (unsigned long long)s->bytes, "first_ns", (long long)s->first_ns, "last_ns",
                         (long long)s->last_ns, "phs", phs_rows(s), "conv", conv, "io", io_result(s), "dns",
                         dns_result(&s->dns), "http", http_result(&s->http), "cut", cut, "peak_memory",
                         (unsigned long long)budget->peak, "dns_names", names_result(&s->dns_names),
                         "http_hosts", names_result(&s->http_hosts));
fail:
    Py_XDECREF(conv);
    Py_XDECREF(cut);
    return NULL;
}

static PyObject *stats_fn(PyObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"reader", "interval_ns", "filters", "max_memory", "max_intervals", "progress", NULL};
    fp_state *st = fp_state_from_module(m);
    PyObject *reader, *filters = Py_None, *progress = Py_None;
    long long interval_ns = 0;
    unsigned long long max_memory = 1ull << 30, max_intervals = 10000000;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|LOKKO", kwlist, st->Reader_Type, &reader, &interval_ns,
                                     &filters, &max_memory, &max_intervals, &progress))
        return NULL;
    if (interval_ns < 0) {
        PyErr_SetString(PyExc_ValueError, "interval_ns must be >= 0");
        return NULL;
    }
    stats_run run;
    memset(&run, 0, sizeof run);
    run.budget.limit = max_memory;
    fp_stats_config cfg = {interval_ns, max_intervals, NULL, 0, &run.budget};
    if (filters != Py_None) {
        int n = compile_filters(st, filters, &run);
        if (n < 0) {
            stats_run_clear(&run);
            return NULL;
        }
        cfg.filters = run.programs;
        cfg.nfilters = (size_t)n;
    }
    run.st = fp_stats_new(&cfg);
    if (run.st == NULL) {
        stats_run_clear(&run);
        return PyErr_NoMemory();
    }
    PyObject *out = run_reader(st, reader, &run, progress) < 0 ? NULL : results(run.st, &run.budget);
    stats_run_clear(&run);
    return out;
}

static PyMethodDef stats_functions[] = {
    {"_stats", (PyCFunction)(void (*)(void))stats_fn, METH_VARARGS | METH_KEYWORDS,
     "_stats(reader, interval_ns=0, filters=None, max_memory=1 GiB, max_intervals=10**7, progress=None)\n--\n\n"
     "One pass of the statistics engine over a Reader (fastpkt.stats builds the tables)."},
    {NULL},
};

int fp_stats_register(PyObject *m, fp_state *st)
{
    (void)st;
    return PyModule_AddFunctions(m, stats_functions);
}
