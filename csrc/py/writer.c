/* Writer: streaming pcap output (µs or ns, either byte order). */
#include "pyfp.h"

#include <errno.h>

#include "../write/pcap_writer.h"

typedef struct {
    PyObject_HEAD
    fp_pcap_writer *w;
    uint32_t linktype;
    uint32_t snaplen;
    uint64_t written;
} fp_writer_obj;

#define W(o) ((fp_writer_obj *)(o))

static int writer_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", "linktype", "snaplen", "nanosecond", "big_endian", "header", NULL};
    PyObject *path_obj, *path = NULL, *header = Py_None;
    unsigned int linktype = FP_LINKTYPE_ETHERNET, snaplen = 262144;
    int nano = 0, big = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|IIppO:Writer", kwlist, &path_obj, &linktype, &snaplen,
                                     &nano, &big, &header))
        return -1;
    uint8_t hdr[24];
    if (header != Py_None) {
        /* Copy a pcap file header exactly (version, thiszone, FCS bits): exact rewrites. */
        if (!PyBytes_Check(header) || PyBytes_GET_SIZE(header) != 24) {
            PyErr_SetString(PyExc_ValueError, "header must be the 24-byte pcap file header (PacketList.file_header)");
            return -1;
        }
        memcpy(hdr, PyBytes_AS_STRING(header), 24);
        uint32_t magic = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
        int swapped = magic == 0xD4C3B2A1u || magic == 0x4D3CB2A1u;
        if (!swapped && magic != 0xA1B2C3D4u && magic != 0xA1B23C4Du) {
            PyErr_SetString(PyExc_ValueError, "header does not start with a pcap magic number");
            return -1;
        }
        uint32_t lt = swapped ? (uint32_t)hdr[20] << 24 | (uint32_t)hdr[21] << 16 | (uint32_t)hdr[22] << 8 | hdr[23]
                              : (uint32_t)hdr[20] | (uint32_t)hdr[21] << 8 | (uint32_t)hdr[22] << 16 | (uint32_t)hdr[23] << 24;
        linktype = lt & 0xFFFFu;
    }
    if (W(self)->w != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Writer is already open");
        return -1;
    }
    if (!PyUnicode_FSConverter(path_obj, &path)) return -1;
    fp_pcap_writer *w;
    Py_BEGIN_ALLOW_THREADS
    w = header != Py_None ? fp_pcap_writer_open_header(PyBytes_AS_STRING(path), hdr)
                          : fp_pcap_writer_open(PyBytes_AS_STRING(path), linktype, snaplen, nano, big);
    Py_END_ALLOW_THREADS
    if (w == NULL) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path_obj);
        Py_DECREF(path);
        return -1;
    }
    Py_DECREF(path);
    W(self)->w = w;
    W(self)->linktype = linktype;
    W(self)->snaplen = snaplen;
    return 0;
}

static int check_open(fp_writer_obj *w)
{
    if (w->w == NULL) {
        PyErr_SetString(PyExc_ValueError, "I/O operation on a closed Writer");
        return -1;
    }
    return 0;
}

static int timestamp_arg(PyObject *time, PyObject *time_ns, int64_t *out)
{
    if (time_ns != Py_None) {
        long long v = PyLong_AsLongLong(time_ns);
        if (v == -1 && PyErr_Occurred()) return -1;
        *out = v;
    } else if (time != Py_None) {
        double t = PyFloat_AsDouble(time);
        if (t == -1.0 && PyErr_Occurred()) return -1;
        *out = fp_seconds_to_ns(t);
    }
    return 0;
}

static PyObject *writer_write(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"packet", "time", "time_ns", "wirelen", NULL};
    PyObject *pkt, *time = Py_None, *time_ns = Py_None, *wirelen_obj = Py_None;
    fp_writer_obj *w = W(self);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOO:write", kwlist, &pkt, &time, &time_ns, &wirelen_obj))
        return NULL;
    if (check_open(w) < 0) return NULL;
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    int64_t ts = 0;
    Py_buffer buf = {0};
    const uint8_t *data;
    uint32_t caplen, wirelen;
    if (Py_IS_TYPE(pkt, st->Packet_Type)) {
        FpPacket *p = (FpPacket *)pkt;
        if (p->linktype != w->linktype) {
            PyErr_Format(PyExc_ValueError,
                         "packet has link type %u but this Writer was opened with linktype=%u; "
                         "pcap holds one link type per file (open another Writer)",
                         p->linktype, w->linktype);
            return NULL;
        }
        ts = p->ts_ns;
        data = p->data;
        caplen = p->caplen;
        wirelen = p->wirelen;
    } else {
        if (PyObject_GetBuffer(pkt, &buf, PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "write() takes a fastpkt.Packet or bytes, not %.100s",
                         Py_TYPE(pkt)->tp_name);
            return NULL;
        }
        if (buf.len > 0x7fffffff) {
            PyBuffer_Release(&buf);
            PyErr_SetString(PyExc_ValueError, "packet too large");
            return NULL;
        }
        data = buf.buf;
        caplen = wirelen = (uint32_t)buf.len;
    }
    if (timestamp_arg(time, time_ns, &ts) < 0) goto fail;
    if (wirelen_obj != Py_None) {
        unsigned long v = PyLong_AsUnsignedLong(wirelen_obj);
        if (PyErr_Occurred()) goto fail;
        wirelen = (uint32_t)v;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = fp_pcap_writer_write(w->w, ts, data, caplen, wirelen);
    Py_END_ALLOW_THREADS
    if (buf.obj) PyBuffer_Release(&buf);
    if (rc < 0) return PyErr_SetFromErrno(PyExc_OSError);
    w->written++;
    Py_RETURN_NONE;
fail:
    if (buf.obj) PyBuffer_Release(&buf);
    return NULL;
}

static PyObject *writer_flush(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(W(self)) < 0) return NULL;
    if (fp_pcap_writer_flush(W(self)->w) < 0) return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

static PyObject *writer_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    fp_pcap_writer *w = W(self)->w;
    if (w == NULL) Py_RETURN_NONE;
    W(self)->w = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = fp_pcap_writer_close(w);
    Py_END_ALLOW_THREADS
    if (rc < 0) return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

static PyObject *writer_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(W(self)) < 0) return NULL;
    return Py_NewRef(self);
}

static PyObject *writer_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    (void)nargs;
    return writer_close(self, NULL);
}

static void writer_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (W(self)->w) fp_pcap_writer_close(W(self)->w);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *get_written(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(W(self)->written);
}
static PyObject *get_closed(PyObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(W(self)->w == NULL);
}

static PyGetSetDef writer_getset[] = {
    {"packets_written", get_written, NULL, "Records written so far.", NULL},
    {"closed", get_closed, NULL, "True after close().", NULL},
    {NULL},
};

static PyMethodDef writer_methods[] = {
    {"write", (PyCFunction)(void (*)(void))writer_write, METH_VARARGS | METH_KEYWORDS,
     "write(packet, time=None, time_ns=None, wirelen=None)\n\nAppend a Packet (its own time and "
     "lengths) or raw bytes (time defaults to 0)."},
    {"flush", writer_flush, METH_NOARGS, "Flush buffered records to the file."},
    {"close", writer_close, METH_NOARGS, "Flush and close (idempotent)."},
    {"__enter__", writer_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))writer_exit, METH_FASTCALL, NULL},
    {NULL},
};

PyDoc_STRVAR(writer_doc, "Writer(path, linktype=1, snaplen=262144, nanosecond=False, big_endian=False, header=None)\n--\n\n"
                         "Streaming pcap writer; a context manager. header= copies a 24-byte pcap file header\n"
                         "exactly (PacketList.file_header), overriding the other options.");

static PyType_Slot writer_slots[] = {
    {Py_tp_doc, (void *)writer_doc},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, writer_init},
    {Py_tp_dealloc, writer_dealloc},
    {Py_tp_getset, writer_getset},
    {Py_tp_methods, writer_methods},
    {0, NULL},
};

static PyType_Spec writer_spec = {
    .name = "fastpkt.Writer",
    .basicsize = sizeof(fp_writer_obj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = writer_slots,
};

int fp_writer_register(PyObject *m, fp_state *st)
{
    st->Writer_Type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &writer_spec, NULL);
    if (st->Writer_Type == NULL) return -1;
    return PyModule_AddType(m, st->Writer_Type);
}
