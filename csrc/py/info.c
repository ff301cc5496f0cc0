/* _fastpkt._capture_info(reader, progress=None): what capinfos tells about a capture
 * (packets, bytes, times, interfaces), counted in one pass over the records with the GIL
 * released: no Packet, PacketList or column is made, so memory stays flat whatever the
 * file's size (fastpkt info, fastpkt.summary.capture_info). */
#include "pyfp.h"

#include <string.h>

/* Records between two progress calls (and checks for Ctrl+C), as read_all. */
#define INFO_PROGRESS_ROWS 65536u

typedef struct {
    uint64_t packets, bytes;
} iface_count;

typedef struct {
    uint64_t packets, wire_bytes, captured_bytes, untimed;
    int64_t first, last, earliest, latest; /* ns; valid once a timed record was seen */
    int timed, ordered;
    iface_count *ifaces; /* by interface id: pcapng sections may declare many */
    uint32_t n_ifaces;
    int oom;
} info_acc;

static void info_add(info_acc *a, const fp_record *rec)
{
    a->packets++;
    a->wire_bytes += rec->wirelen;
    a->captured_bytes += rec->caplen;
    if (rec->interface_id >= a->n_ifaces) {
        uint32_t n = rec->interface_id + 1;
        iface_count *grown = PyMem_RawRealloc(a->ifaces, (size_t)n * sizeof *grown);
        if (grown == NULL) {
            a->oom = 1;
            return;
        }
        memset(grown + a->n_ifaces, 0, (size_t)(n - a->n_ifaces) * sizeof *grown);
        a->ifaces = grown;
        a->n_ifaces = n;
    }
    a->ifaces[rec->interface_id].packets++;
    a->ifaces[rec->interface_id].bytes += rec->wirelen;
    if (!rec->has_ts) { /* pcapng simple packet blocks carry no time */
        a->untimed++;
        return;
    }
    if (!a->timed) {
        a->first = a->earliest = a->latest = rec->ts_ns;
        a->timed = a->ordered = 1;
    } else {
        if (rec->ts_ns < a->last) a->ordered = 0;
        if (rec->ts_ns < a->earliest) a->earliest = rec->ts_ns;
        if (rec->ts_ns > a->latest) a->latest = rec->ts_ns;
    }
    a->last = rec->ts_ns;
}

static PyObject *time_or_none(const info_acc *a, int64_t ns)
{
    return a->timed ? PyLong_FromLongLong(ns) : Py_NewRef(Py_None);
}

/* One dict per interface the source declared (pcap: the file's one), with its counts. */
static PyObject *interfaces_list(const fp_source *src, const info_acc *a)
{
    uint32_t n = src ? fp_source_interface_count(src) : 0;
    if (a->n_ifaces > n) n = a->n_ifaces;
    PyObject *list = PyList_New(n);
    if (list == NULL) return NULL;
    for (uint32_t i = 0; i < n; i++) {
        const fp_interface *ifc = src && i < fp_source_interface_count(src) ? fp_source_interface(src, i) : NULL;
        iface_count c = i < a->n_ifaces ? a->ifaces[i] : (iface_count){0, 0};
        PyObject *name = PyUnicode_DecodeUTF8(ifc ? ifc->name : "", ifc ? (Py_ssize_t)strnlen(ifc->name, sizeof ifc->name) : 0,
                                              "replace");
        PyObject *d = name == NULL ? NULL
                      : ifc ? Py_BuildValue("{s:I,s:I,s:O,s:K,s:K}", "linktype", ifc->linktype, "snaplen", ifc->snaplen,
                                            "name", name, "packets", (unsigned long long)c.packets, "bytes",
                                            (unsigned long long)c.bytes)
                            : Py_BuildValue("{s:O,s:O,s:O,s:K,s:K}", "linktype", Py_None, "snaplen", Py_None, "name",
                                            name, "packets", (unsigned long long)c.packets, "bytes",
                                            (unsigned long long)c.bytes);
        Py_XDECREF(name);
        if (d == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, d);
    }
    return list;
}

static PyObject *info_result(const fp_source *src, const info_acc *a)
{
    PyObject *ifaces = interfaces_list(src, a);
    if (ifaces == NULL) return NULL;
    PyObject *first = time_or_none(a, a->first), *last = time_or_none(a, a->last);
    PyObject *earliest = time_or_none(a, a->earliest), *latest = time_or_none(a, a->latest);
    PyObject *d = NULL;
    if (first && last && earliest && latest)
        d = Py_BuildValue("{s:K,s:K,s:K,s:K,s:O,s:O,s:O,s:O,s:O,s:O}", "packets",
                          (unsigned long long)a->packets, "bytes", (unsigned long long)a->wire_bytes,
                          "captured_bytes", (unsigned long long)a->captured_bytes, "untimed",
                          (unsigned long long)a->untimed, "first", first, "last", last, "earliest", earliest,
                          "latest", latest, "time_ordered", a->ordered || !a->timed ? Py_True : Py_False,
                          "interfaces", ifaces);
    Py_XDECREF(first);
    Py_XDECREF(last);
    Py_XDECREF(earliest);
    Py_XDECREF(latest);
    Py_DECREF(ifaces);
    return d;
}

static PyObject *capture_info(PyObject *mod, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"reader", "progress", NULL};
    PyObject *reader, *progress = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:_capture_info", kwlist, &reader, &progress)) return NULL;
    fp_state *st = fp_state_from_module(mod);
    if (st == NULL) return NULL;
    if (!PyObject_TypeCheck(reader, st->Reader_Type)) {
        PyErr_Format(PyExc_TypeError, "a Reader expected, not %s", Py_TYPE(reader)->tp_name);
        return NULL;
    }
    fp_reader_obj *r = (fp_reader_obj *)reader;
    if (fp_readers_claim(&reader, 1) < 0) return NULL;
    info_acc a = {0};
    fp_record rec;
    fp_error err;
    char errbuf[512];
    int rc = FP_PULL_END, failed = 0;

    for (;;) { /* every INFO_PROGRESS_ROWS records and every idle read timeout: signals, progress */
        Py_BEGIN_ALLOW_THREADS
        for (uint32_t k = 0; k < INFO_PROGRESS_ROWS && !a.oom; k++) {
            rc = fp_reader_pull(r, &rec, &err, errbuf, sizeof errbuf);
            if (rc != FP_PULL_RECORD) break;
            info_add(&a, &rec);
        }
        Py_END_ALLOW_THREADS
        if (a.oom) {
            PyErr_NoMemory();
            failed = 1;
            break;
        }
        if (fp_reader_report_progress(r, progress) < 0) {
            failed = 1;
            break;
        }
        if (rc != FP_PULL_RECORD && rc != FP_PULL_IDLE) break;
        if (PyErr_CheckSignals() < 0) {
            failed = 1;
            break;
        }
    }
    if (!failed && fp_reader_pull_finish(r, st, rc, &rec, &err, errbuf) < 0) failed = 1;
    PyObject *result = failed ? NULL : info_result(r->src, &a);
    fp_readers_release(&reader, 1);
    PyMem_RawFree(a.ifaces);
    return result;
}

static PyMethodDef info_functions[] = {
    {"_capture_info", (PyCFunction)(void (*)(void))capture_info, METH_VARARGS | METH_KEYWORDS,
     "_capture_info(reader, progress=None)\n--\n\n"
     "Read the Reader's remaining records in C (GIL released) and count them: packets, bytes\n"
     "(on the wire), captured_bytes, untimed (records without a time), first/last (ns, in\n"
     "file order), earliest/latest, time_ordered, and interfaces (linktype, snaplen, name,\n"
     "packets, bytes per interface id). progress(position, size) every 65,536 records."},
    {NULL},
};

int fp_info_register(PyObject *m) { return PyModule_AddFunctions(m, info_functions); }
