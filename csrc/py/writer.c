/* Writer: streaming pcap or pcapng output to a path or a binary file object,
 * over the Python-free writer of csrc/write. Records are appended to a 1 MiB
 * buffer with the GIL held; it is released only around the writes to a file. */
#include "pyfp.h"

#include <errno.h>
#include <strings.h>

#include "../write/writer.h"

typedef struct {
    PyObject_HEAD
    fp_writer *w;
    PyObject *file;          /* file object target (its write()), or NULL for a path */
    PyObject *path;          /* the path as str (kept after close() for views), or NULL */
    int keep_interfaces;     /* interfaces= given: a Packet keeps its interface index */
    uint32_t linktype;       /* pcap: the file's; pcapng: the interface raw bytes go to */
    uint32_t fcs_len;        /* pcap: the FCS length its header declares (bytes) */
    int check_fcs;           /* pcap: fcslen= given or a header copied: packets must declare that one */
    uint32_t snaplen;        /* pcapng: for interfaces added from packets */
    uint64_t tsresol;        /* pcapng: for interfaces added from packets and interfaces= */
    uint64_t written;
    int64_t last_key;        /* pcapng: cache of the last (link type, FCS) -> interface lookup */
    uint32_t last_interface;
    int busy;                /* a thread is writing to the file with the GIL released */
} fp_writer_obj;

#define W(o) ((fp_writer_obj *)(o))

/* ---- errors and sinks ------------------------------------------------------- */

static void set_error(const fp_werror *e)
{
    if (PyErr_Occurred()) return;   /* a file object's write() raised: keep its exception */
    if (e->kind == FP_WERR_VALUE) {
        PyErr_SetString(PyExc_ValueError, e->message);
        return;
    }
    PyObject *exc = PyObject_CallFunction(PyExc_OSError, "is", e->sys_errno, e->message);
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
}

/* fp_sink_fn over a Python file object's write() (called with the GIL held). */
static int file_sink(void *ctx, const uint8_t *p, size_t n)
{
    PyObject *file = ctx;
    while (n) {
        PyObject *chunk = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
        PyObject *r = chunk ? PyObject_CallMethod(file, "write", "O", chunk) : NULL;
        Py_XDECREF(chunk);
        if (r == NULL) {
            errno = EIO;
            return -1;
        }
        Py_ssize_t k = r == Py_None ? (Py_ssize_t)n : PyLong_AsSsize_t(r);
        Py_DECREF(r);
        if (k < 0 || (size_t)k > n) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_OSError, "write() of the file object returned %zd for %zu bytes", k, n);
            errno = EIO;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* ---- argument conversion ------------------------------------------------------ */

static int u32_arg(PyObject *o, const char *what, uint32_t *out)
{
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError) || PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "%s must be an integer from 0 to 4294967295, not %R", what, o);
        }
        return -1;
    }
    if (v > 0xFFFFFFFFull) {
        PyErr_Format(PyExc_ValueError, "%s must be an integer from 0 to 4294967295, not %R", what, o);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int linktype_arg(PyObject *o, uint32_t *out)
{
    if (u32_arg(o, "linktype", out) < 0) return -1;
    if (*out > 0xFFFF) {
        PyErr_Format(PyExc_ValueError, "linktype must be from 0 to 65535 (16 bits in pcap and pcapng), not %R", o);
        return -1;
    }
    return 0;
}

static int tsresol_arg(PyObject *o, uint64_t *out)
{
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        v = 0;
    }
    int pow10 = 0;
    for (unsigned long long p = 1;; p *= 10) {
        if (p == v) pow10 = 1;
        if (p > 0xFFFFFFFFFFFFFFFFull / 10) break;
    }
    if (v == 0 || (!pow10 && (v & (v - 1)) != 0)) {
        PyErr_Format(PyExc_ValueError,
                     "tsresol must be a power of 10 or of 2 (units per second, e.g. 10**6, 10**9, 2**20), not %R", o);
        return -1;
    }
    *out = v;
    return 0;
}

/* A pcapng interface from a dict (the keys of PacketList.interfaces). */
static int interface_from_dict(fp_writer_obj *self, PyObject *d, fp_winterface *ifc, PyObject **name_bytes)
{
    *name_bytes = NULL;
    if (!PyDict_Check(d)) {
        PyErr_Format(PyExc_TypeError, "interfaces must be dicts (linktype, snaplen, tsresol, tsoffset, name, fcslen), not %.100s",
                     Py_TYPE(d)->tp_name);
        return -1;
    }
    static const char *known[] = {"linktype", "snaplen", "tsresol", "tsoffset", "name", "fcslen", NULL};
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &key, &value)) {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++) ok = PyUnicode_Check(key) && PyUnicode_CompareWithASCIIString(key, known[i]) == 0;
        if (!ok) {
            PyErr_Format(PyExc_ValueError, "unknown interface key %R (linktype, snaplen, tsresol, tsoffset, name, fcslen)", key);
            return -1;
        }
    }
    *ifc = (fp_winterface){.snaplen = self->snaplen, .tsresol = self->tsresol};
    PyObject *v = PyDict_GetItemString(d, "linktype");
    if (v == NULL) {
        PyErr_SetString(PyExc_ValueError, "an interface needs a linktype");
        return -1;
    }
    if (linktype_arg(v, &ifc->linktype) < 0) return -1;
    if ((v = PyDict_GetItemString(d, "snaplen")) && v != Py_None && u32_arg(v, "snaplen", &ifc->snaplen) < 0) return -1;
    if ((v = PyDict_GetItemString(d, "tsresol")) && v != Py_None && tsresol_arg(v, &ifc->tsresol) < 0) return -1;
    if ((v = PyDict_GetItemString(d, "fcslen")) && v != Py_None && u32_arg(v, "fcslen", &ifc->fcs_len) < 0) return -1;
    if ((v = PyDict_GetItemString(d, "tsoffset")) && v != Py_None) {
        long long off = PyLong_AsLongLong(v);
        if (off == -1 && PyErr_Occurred()) return -1;
        ifc->tsoffset_s = off;
    }
    if ((v = PyDict_GetItemString(d, "name")) && v != Py_None) {
        *name_bytes = PyUnicode_Check(v) ? PyUnicode_AsUTF8String(v) : NULL;
        if (*name_bytes == NULL) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "interface name must be a str");
            return -1;
        }
        if (memchr(PyBytes_AS_STRING(*name_bytes), 0, (size_t)PyBytes_GET_SIZE(*name_bytes))) {
            Py_CLEAR(*name_bytes);
            PyErr_SetString(PyExc_ValueError, "interface name contains a NUL character");
            return -1;
        }
        ifc->name = PyBytes_AS_STRING(*name_bytes);
    }
    return 0;
}

static int64_t add_interface(fp_writer_obj *self, const fp_winterface *ifc)
{
    fp_werror e;
    int64_t id = fp_writer_add_interface(self->w, ifc, &e);
    if (id < 0) set_error(&e);
    self->last_key = -1;
    return id;
}

/* ---- __init__ ---------------------------------------------------------------- */

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* format=None: the header's magic, else the path's extension (.pcapng, .ntar), else pcap. */
static int choose_format(PyObject *format, PyObject *path_bytes, const Py_buffer *header, fp_wformat *out)
{
    if (format != Py_None) {
        const char *f = PyUnicode_Check(format) ? PyUnicode_AsUTF8(format) : NULL;
        if (f && strcmp(f, "pcap") == 0) *out = FP_WFORMAT_PCAP;
        else if (f && strcmp(f, "pcapng") == 0) *out = FP_WFORMAT_PCAPNG;
        else {
            if (!PyErr_Occurred()) PyErr_Format(PyExc_ValueError, "format must be 'pcap' or 'pcapng', not %R", format);
            return -1;
        }
        return 0;
    }
    static const char *pcap_magics[] = {"\xa1\xb2\xc3\xd4", "\xd4\xc3\xb2\xa1", "\xa1\xb2\x3c\x4d", "\x4d\x3c\xb2\xa1"};
    int pcap_magic = 0;
    for (int i = 0; i < 4 && header->buf && header->len >= 4; i++)
        pcap_magic |= memcmp(header->buf, pcap_magics[i], 4) == 0;
    if (header->buf && header->len >= 4 && memcmp(header->buf, "\x0a\x0d\x0d\x0a", 4) == 0) *out = FP_WFORMAT_PCAPNG;
    else if (pcap_magic) *out = FP_WFORMAT_PCAP;
    else if (path_bytes && (has_suffix(PyBytes_AS_STRING(path_bytes), ".pcapng") ||
                            has_suffix(PyBytes_AS_STRING(path_bytes), ".ntar")))
        *out = FP_WFORMAT_PCAPNG;
    else *out = FP_WFORMAT_PCAP;
    return 0;
}

static int open_output(fp_writer_obj *self, PyObject *target, PyObject *path_bytes, int atomic, fp_out **out)
{
    fp_werror e;
    if (path_bytes == NULL) {
        self->file = Py_NewRef(target);
        *out = fp_out_open_sink(file_sink, target, &e);
    } else {
        Py_XSETREF(self->path, PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(path_bytes),
                                                                PyBytes_GET_SIZE(path_bytes)));
        if (self->path == NULL) return -1;
        Py_BEGIN_ALLOW_THREADS
        *out = fp_out_open_path(PyBytes_AS_STRING(path_bytes), atomic, &e);
        Py_END_ALLOW_THREADS
    }
    if (*out == NULL) {
        set_error(&e);
        return -1;
    }
    return 0;
}

static int writer_init(PyObject *op, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", "linktype", "snaplen", "nanosecond", "big_endian", "header",
                             "format", "interfaces", "atomic", "fcslen", NULL};
    fp_writer_obj *self = W(op);
    PyObject *target, *linktype_obj = Py_None, *snaplen_obj = Py_None, *nano_obj = Py_None;
    PyObject *header_obj = Py_None, *format = Py_None, *interfaces = Py_None, *fcs_obj = Py_None;
    int big = 0, atomic = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOOpO$OOpO:Writer", kwlist, &target, &linktype_obj,
                                     &snaplen_obj, &nano_obj, &big, &header_obj, &format, &interfaces, &atomic,
                                     &fcs_obj))
        return -1;
    if (self->w != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Writer is already open");
        return -1;
    }
    uint32_t linktype = FP_LINKTYPE_ETHERNET, snaplen = 262144;
    if (linktype_obj != Py_None && linktype_arg(linktype_obj, &linktype) < 0) return -1;
    if (snaplen_obj != Py_None && u32_arg(snaplen_obj, "snaplen", &snaplen) < 0) return -1;
    uint32_t fcs_len = 0;
    if (fcs_obj != Py_None && u32_arg(fcs_obj, "fcslen", &fcs_len) < 0) return -1;
    int nano = nano_obj == Py_None ? -1 : PyObject_IsTrue(nano_obj);
    if (nano_obj != Py_None && nano < 0) return -1;
    PyObject *path_bytes = NULL;
    int is_file = !PyUnicode_Check(target) && !PyBytes_Check(target) && !PyObject_TypeCheck(target, &PyByteArray_Type) &&
                  PyObject_HasAttrString(target, "write") && !PyObject_HasAttrString(target, "__fspath__");
    if (!is_file && !PyUnicode_FSConverter(target, &path_bytes)) return -1;
    Py_buffer header = {0};
    if (header_obj != Py_None && PyObject_GetBuffer(header_obj, &header, PyBUF_SIMPLE) < 0) {
        Py_XDECREF(path_bytes);
        return -1;
    }
    fp_wformat fmt;
    fp_out *out = NULL;
    fp_writer *w = NULL;
    fp_werror e;
    int rc = -1;
    Py_ssize_t n_ifs = 0;
    fp_winterface *ifs = NULL;
    PyObject *seq = NULL, *names = NULL;
    self->snaplen = snaplen;
    self->tsresol = nano == 0 ? 1000000u : 1000000000u;
    self->last_key = -1;
    /* Every argument is checked before the output is opened: an existing file stays as it was. */
    if (choose_format(format, path_bytes, &header, &fmt) < 0) goto done;
    if (fmt == FP_WFORMAT_PCAP && interfaces != Py_None) {
        PyErr_SetString(PyExc_ValueError, "interfaces= needs format='pcapng' (pcap has one link type per file)");
        goto done;
    }
    int64_t header_ifs = header.buf ? fp_writer_check_header(fmt, header.buf, (size_t)header.len, &e) : 0;
    if (header_ifs < 0) {
        set_error(&e);
        goto done;
    }
    if (interfaces != Py_None) {
        seq = PySequence_Fast(interfaces, "interfaces must be a list of dicts");
        n_ifs = seq ? PySequence_Fast_GET_SIZE(seq) : 0;
        names = seq ? PyList_New(0) : NULL;
        ifs = names ? PyMem_Calloc((size_t)n_ifs + 1, sizeof *ifs) : NULL;
        if (ifs == NULL) {
            if (seq && names) PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < n_ifs; i++) {
            PyObject *name;
            int bad = interface_from_dict(self, PySequence_Fast_GET_ITEM(seq, i), &ifs[i], &name) < 0;
            if (!bad && name) bad = PyList_Append(names, name) < 0;
            Py_XDECREF(name);
            if (bad) goto done;
            if (fp_writer_check_interface(&ifs[i], &e) < 0) {
                set_error(&e);
                goto done;
            }
        }
    }
    if (n_ifs < header_ifs) {
        PyErr_Format(PyExc_ValueError, "header declares %lld interfaces: describe them in interfaces= "
                     "(PacketList.interfaces)", (long long)header_ifs);
        goto done;
    }
    if (open_output(self, target, path_bytes, atomic, &out) < 0) goto done;
    if (fmt == FP_WFORMAT_PCAP) {
        w = fp_writer_open_pcap(out, header.buf, linktype, fcs_len, snaplen, nano > 0, big, &e);
        self->check_fcs = fcs_obj != Py_None;
        if (w && header.buf) {
            const uint8_t *h = header.buf;
            uint32_t raw = h[0] == 0xA1 ? (uint32_t)h[20] << 24 | (uint32_t)h[21] << 16 | (uint32_t)h[22] << 8 | h[23]
                                        : (uint32_t)h[23] << 24 | (uint32_t)h[22] << 16 | (uint32_t)h[21] << 8 | h[20];
            linktype = raw & 0xFFFFu;   /* the upper bits hold the FCS length */
            fcs_len = raw & 0x04000000u ? (raw >> 28) * 2 : 0;
            self->check_fcs = 1;
        }
        self->fcs_len = fcs_len;
    } else {
        w = fp_writer_open_pcapng(out, header.buf, (size_t)header.len, big, &e);
    }
    if (w == NULL) {
        set_error(&e);
        goto done;
    }
    self->w = w;
    self->linktype = linktype;
    for (Py_ssize_t i = 0; i < n_ifs; i++)
        if (add_interface(self, &ifs[i]) < 0) goto done;
    self->keep_interfaces = interfaces != Py_None;
    if (fmt == FP_WFORMAT_PCAPNG && interfaces == Py_None && linktype_obj != Py_None) {
        fp_winterface ifc = {.linktype = linktype, .snaplen = snaplen, .tsresol = self->tsresol, .fcs_len = fcs_len};
        if (add_interface(self, &ifc) < 0) goto done;
    }
    rc = 0;
done:
    if (rc < 0 && self->w) {
        fp_writer_abort(self->w);
        self->w = NULL;
    }
    if (rc < 0) Py_CLEAR(self->file);
    PyMem_Free(ifs);
    Py_XDECREF(names);
    Py_XDECREF(seq);
    if (header.buf) PyBuffer_Release(&header);
    Py_XDECREF(path_bytes);
    return rc;
}

/* ---- write ------------------------------------------------------------------- */

/* A Writer is used by one thread at a time: another thread that comes in while the
 * first writes to the file (GIL released) is told so instead of racing on the buffer. */
static int check_idle(fp_writer_obj *w)
{
    if (w->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Writer is in use by another thread");
        return -1;
    }
    return 0;
}

static int check_open(fp_writer_obj *w)
{
    if (check_idle(w) < 0) return -1;
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
        if (v == -1 && PyErr_Occurred()) {
            if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError, "time_ns %R does not fit 64 bits of nanoseconds", time_ns);
            }
            return -1;
        }
        *out = v;
    } else if (time != Py_None) {
        double t = PyFloat_AsDouble(time);
        if (t == -1.0 && PyErr_Occurred()) return -1;
        if (!(t > -9.2e9 && t < 9.2e9)) {
            PyErr_Format(PyExc_ValueError, "time %R is outside the range of 64-bit nanoseconds", time);
            return -1;
        }
        *out = fp_seconds_to_ns(t);
    }
    return 0;
}

/* The pcapng interface for a link type and FCS length (-1: any, for raw bytes): the first
 * that has them, else a new one (its IDB declares the FCS as if_fcslen). */
static int64_t interface_for(fp_writer_obj *self, uint32_t linktype, int fcs_len)
{
    int64_t key = (int64_t)linktype | (int64_t)(fcs_len + 1) << 32;
    if (self->last_key == key) return self->last_interface;
    uint32_t n = fp_writer_interface_count(self->w);
    for (uint32_t i = 0; i < n; i++) {
        const fp_winterface *ifc = fp_writer_interface(self->w, i);
        if (ifc->linktype == linktype && (fcs_len < 0 || ifc->fcs_len == (uint32_t)fcs_len)) {
            self->last_key = key;
            self->last_interface = i;
            return i;
        }
    }
    fp_winterface ifc = {.linktype = linktype, .snaplen = self->snaplen, .tsresol = self->tsresol,
                         .fcs_len = fcs_len < 0 ? 0 : (uint32_t)fcs_len};
    int64_t id = add_interface(self, &ifc);
    if (id >= 0) {
        self->last_key = key;
        self->last_interface = (uint32_t)id;
    }
    return id;
}

/* The FCS length a packet's source declared for it (if_fcslen, pcap's FCS bits): its frame
 * ends with that many FCS bytes on the wire. fastpkt.scapy's packets keep none, as Scapy. */
static uint32_t packet_fcs_len(const FpPacket *p)
{
    if (p->wire) return p->wire->fcs_len;
    return (uint32_t)(p->dissect_flags & FP_DISSECT_FCS_MASK) >> FP_DISSECT_FCS_SHIFT;
}

/* pcap: a packet's FCS length against the one its header declares (fcslen=, a copied header):
 * a file declares one for all its frames. -1 with ValueError. */
static int check_pcap_fcs(const fp_writer_obj *self, uint32_t fcs_len, Py_ssize_t index)
{
    if (!self->check_fcs || fcs_len == self->fcs_len) return 0;
    if (index >= 0)
        PyErr_Format(PyExc_ValueError, "packet %zd declares a %u-byte FCS but this Writer was opened with "
                     "fcslen=%u; pcap declares one FCS length per file (use format='pcapng')",
                     index, fcs_len, self->fcs_len);
    else
        PyErr_Format(PyExc_ValueError, "packet declares a %u-byte FCS but this Writer was opened with "
                     "fcslen=%u; pcap declares one FCS length per file (use format='pcapng')",
                     fcs_len, self->fcs_len);
    return -1;
}

typedef struct {
    fp_wpacket p;
    Py_buffer buf;
    PyObject *comment;       /* UTF-8 bytes */
} packet_args;

static void packet_args_release(packet_args *a)
{
    if (a->buf.obj) PyBuffer_Release(&a->buf);
    Py_CLEAR(a->comment);
}

static void wpacket_from_record(fp_wpacket *w, const fp_record *rec)
{
    w->ts_ns = rec->ts_ns;
    w->data = rec->data;
    w->caplen = rec->caplen;
    w->wirelen = rec->wirelen;
    w->raw_opts = rec->opts_len ? rec->data + ((rec->caplen + 3u) & ~3u) : NULL;
    w->raw_opts_len = rec->opts_len;
    w->raw_big_endian = rec->opts_big_endian;
}

/* The pcapng interface of a packet (link type, index in its source, FCS length) written
 * without interface=; checks the link type and FCS. -1 with an exception. */
static int64_t interface_of(fp_writer_obj *self, uint32_t linktype, uint32_t source_interface, uint32_t fcs_len)
{
    int64_t id = self->keep_interfaces ? (int64_t)source_interface : interface_for(self, linktype, (int)fcs_len);
    if (id < 0) return -1;
    const fp_winterface *ifc = fp_writer_interface(self->w, (uint32_t)id);
    if (ifc == NULL) {
        PyErr_Format(PyExc_ValueError, "interface %lld does not exist (%u declared)", (long long)id,
                     fp_writer_interface_count(self->w));
        return -1;
    }
    if (ifc->linktype != linktype) {
        PyErr_Format(PyExc_ValueError, "packet has link type %u but interface %lld has %u", linktype, (long long)id,
                     ifc->linktype);
        return -1;
    }
    return id;
}

/* Fill a->p from write()'s arguments; chooses the pcapng interface. */
static int packet_args_fill(fp_writer_obj *self, packet_args *a, PyObject *pkt, PyObject *time, PyObject *time_ns,
                            PyObject *wirelen_obj, PyObject *interface_obj, PyObject *comment, PyObject *flags)
{
    memset(a, 0, sizeof *a);
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (st == NULL) return -1;
    int pcapng = fp_writer_format(self->w) == FP_WFORMAT_PCAPNG;
    uint32_t linktype = self->linktype, interface_id = 0, fcs_len = 0;
    int is_packet = PyObject_TypeCheck(pkt, st->Packet_Type);
    if (is_packet) {
        FpPacket *p = (FpPacket *)pkt;
        fp_record rec = {.ts_ns = p->ts_ns, .data = p->data, .caplen = p->caplen, .wirelen = p->wirelen,
                         .linktype = p->linktype, .interface_id = p->interface_id, .opts_len = p->opts_len,
                         .opts_big_endian = p->opts_big_endian};
        if (p->wire) { /* a reassembled datagram's packet: the frame as it was captured */
            rec.data = p->wire->data;
            rec.caplen = p->wire->caplen;
            rec.wirelen = p->wire->wirelen;
            rec.opts_len = p->wire->opts_len;
            rec.opts_big_endian = p->wire->opts_big_endian;
        }
        wpacket_from_record(&a->p, &rec);
        linktype = p->linktype;
        interface_id = p->interface_id;
        fcs_len = packet_fcs_len(p);
    } else {
        if (PyObject_GetBuffer(pkt, &a->buf, PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "write() takes a fastpkt.Packet or bytes, not %.100s", Py_TYPE(pkt)->tp_name);
            return -1;
        }
        if (a->buf.len > 0xFFFFFFFFLL) {
            PyErr_Format(PyExc_ValueError, "a packet of %zd bytes does not fit the 32-bit captured length", a->buf.len);
            return -1;
        }
        a->p.data = a->buf.buf;
        a->p.caplen = a->p.wirelen = (uint32_t)a->buf.len;
    }
    if (timestamp_arg(time, time_ns, &a->p.ts_ns) < 0) return -1;
    if (wirelen_obj != Py_None && u32_arg(wirelen_obj, "wirelen", &a->p.wirelen) < 0) return -1;
    if (comment != Py_None) {
        a->comment = PyUnicode_Check(comment) ? PyUnicode_AsUTF8String(comment) : NULL;
        if (a->comment == NULL) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "comment must be a str");
            return -1;
        }
        a->p.comment = PyBytes_AS_STRING(a->comment);
        a->p.comment_len = (size_t)PyBytes_GET_SIZE(a->comment);
    }
    if (flags != Py_None) {
        if (u32_arg(flags, "flags", &a->p.flags) < 0) return -1;
        a->p.has_flags = 1;
    }
    if (!pcapng) {
        if (interface_obj != Py_None) {
            PyErr_SetString(PyExc_ValueError, "interface= needs format='pcapng'");
            return -1;
        }
        if (is_packet && linktype != self->linktype) {
            PyErr_Format(PyExc_ValueError,
                         "packet has link type %u but this Writer was opened with linktype=%u; "
                         "pcap holds one link type per file (open another Writer, or use format='pcapng')",
                         linktype, self->linktype);
            return -1;
        }
        return is_packet ? check_pcap_fcs(self, fcs_len, -1) : 0;
    }
    int64_t id;
    if (interface_obj != Py_None) {
        if (u32_arg(interface_obj, "interface", &interface_id) < 0) return -1;
        const fp_winterface *ifc = fp_writer_interface(self->w, interface_id);
        if (ifc == NULL) {
            PyErr_Format(PyExc_ValueError, "interface %u does not exist (%u declared)", interface_id,
                         fp_writer_interface_count(self->w));
            return -1;
        }
        if (is_packet && ifc->linktype != linktype) {
            PyErr_Format(PyExc_ValueError, "packet has link type %u but interface %u has %u", linktype,
                         interface_id, ifc->linktype);
            return -1;
        }
        if (is_packet && ifc->fcs_len != fcs_len) {
            PyErr_Format(PyExc_ValueError, "packet declares a %u-byte FCS but interface %u has fcslen %u",
                         fcs_len, interface_id, ifc->fcs_len);
            return -1;
        }
        id = interface_id;
    } else if (is_packet) {
        id = interface_of(self, linktype, interface_id, fcs_len);
    } else {
        id = interface_for(self, linktype, -1);
    }
    if (id < 0) return -1;
    a->p.interface_id = (uint32_t)id;
    return 0;
}

/* fname: the PyArg format, ending with the method's name. */
static int parse_write_args(fp_writer_obj *self, PyObject *args, PyObject *kwds, const char *fname, packet_args *a)
{
    static char *kwlist[] = {"packet", "time", "time_ns", "wirelen", "interface", "comment", "flags", NULL};
    PyObject *pkt, *time = Py_None, *time_ns = Py_None, *wirelen = Py_None, *interface = Py_None;
    PyObject *comment = Py_None, *flags = Py_None;
    memset(a, 0, sizeof *a);
    if (kwds == NULL && PyTuple_GET_SIZE(args) == 1) {   /* write(packet): the hot call */
        pkt = PyTuple_GET_ITEM(args, 0);
    } else if (!PyArg_ParseTupleAndKeywords(args, kwds, fname, kwlist, &pkt, &time, &time_ns, &wirelen,
                                            &interface, &comment, &flags)) {
        return -1;
    }
    if (check_open(self) < 0) return -1;
    return packet_args_fill(self, a, pkt, time, time_ns, wirelen, interface, comment, flags);
}

/* Write one record; the GIL is released only when it empties the buffer into a file. */
static int write_record(fp_writer_obj *self, const fp_wpacket *p)
{
    fp_werror e;
    int rc;
    fp_out *out = fp_writer_out(self->w);
    if (self->file == NULL && fp_out_room(out) < fp_writer_record_size(self->w, p)) {
        self->busy = 1;
        Py_BEGIN_ALLOW_THREADS
        rc = fp_writer_write(self->w, p, &e);
        Py_END_ALLOW_THREADS
        self->busy = 0;
    } else {
        rc = fp_writer_write(self->w, p, &e);
    }
    if (rc < 0) {
        set_error(&e);
        return -1;
    }
    self->written++;
    return 0;
}

static PyObject *writer_write(PyObject *op, PyObject *args, PyObject *kwds)
{
    fp_writer_obj *self = W(op);
    packet_args a;
    int rc = parse_write_args(self, args, kwds, "O|OOO$OOO:write", &a);
    if (rc == 0) rc = write_record(self, &a.p);
    packet_args_release(&a);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

/* A PacketList's records, straight from its table: no Packet objects. */
static int write_packetlist(fp_writer_obj *self, PyObject *pl)
{
    int pcapng = fp_writer_format(self->w) == FP_WFORMAT_PCAPNG;
    Py_ssize_t n = fp_packetlist_size(pl);
    for (Py_ssize_t i = 0; i < n; i++) {
        fp_record rec;
        fp_wpacket p = {0};
        fp_packetlist_record(pl, i, &rec);
        wpacket_from_record(&p, &rec);
        if (pcapng) {
            int64_t id = interface_of(self, rec.linktype, rec.interface_id, rec.fcs_len);
            if (id < 0) return -1;
            p.interface_id = (uint32_t)id;
        } else if (rec.linktype != self->linktype) {
            PyErr_Format(PyExc_ValueError,
                         "packet %zd has link type %u but this Writer was opened with linktype=%u; "
                         "pcap holds one link type per file (use format='pcapng')", i, rec.linktype,
                         self->linktype);
            return -1;
        } else if (check_pcap_fcs(self, rec.fcs_len, i) < 0) {
            return -1;
        }
        if (write_record(self, &p) < 0) return -1;
    }
    return 0;
}

static PyObject *writer_write_all(PyObject *op, PyObject *packets)
{
    fp_writer_obj *self = W(op);
    if (check_open(self) < 0) return NULL;
    fp_state *st = fp_state_from_type(Py_TYPE(op));
    if (st == NULL) return NULL;
    uint64_t before = self->written;
    if (Py_IS_TYPE(packets, st->PacketList_Type)) {
        Py_INCREF(packets);   /* its records stay mapped while we write */
        int rc = write_packetlist(self, packets);
        Py_DECREF(packets);
        if (rc < 0) return NULL;
    } else {
        PyObject *it = PyObject_GetIter(packets), *item;
        if (it == NULL) return NULL;
        while ((item = PyIter_Next(it)) != NULL) {
            packet_args a;
            int rc = packet_args_fill(self, &a, item, Py_None, Py_None, Py_None, Py_None, Py_None, Py_None);
            if (rc == 0) rc = write_record(self, &a.p);
            packet_args_release(&a);
            Py_DECREF(item);
            if (rc < 0) {
                Py_DECREF(it);
                return NULL;
            }
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) return NULL;
    }
    return PyLong_FromUnsignedLongLong(self->written - before);
}

static PyObject *writer_record_size(PyObject *op, PyObject *args, PyObject *kwds)
{
    fp_writer_obj *self = W(op);
    packet_args a;
    if (parse_write_args(self, args, kwds, "O|OOO$OOO:record_size", &a) < 0) {
        packet_args_release(&a);
        return NULL;
    }
    uint64_t n = fp_writer_record_size(self->w, &a.p);
    packet_args_release(&a);
    return PyLong_FromUnsignedLongLong(n);
}

static PyObject *writer_add_interface(PyObject *op, PyObject *args, PyObject *kwds)
{
    fp_writer_obj *self = W(op);
    if (check_open(self) < 0) return NULL;
    if (PyTuple_GET_SIZE(args) > 1) {
        PyErr_SetString(PyExc_TypeError, "add_interface(linktype, *, snaplen=, tsresol=, tsoffset=, name=, fcslen=)");
        return NULL;
    }
    PyObject *d = kwds ? PyDict_Copy(kwds) : PyDict_New();
    if (d == NULL) return NULL;
    if (PyTuple_GET_SIZE(args) == 1 && PyDict_SetItemString(d, "linktype", PyTuple_GET_ITEM(args, 0)) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    fp_winterface ifc;
    PyObject *name;
    int64_t id = interface_from_dict(self, d, &ifc, &name) < 0 ? -1 : add_interface(self, &ifc);
    Py_XDECREF(name);
    Py_DECREF(d);
    return id < 0 ? NULL : PyLong_FromLongLong(id);
}

/* ---- flush / close ------------------------------------------------------------- */

static PyObject *writer_flush(PyObject *op, PyObject *unused)
{
    (void)unused;
    fp_writer_obj *self = W(op);
    if (check_open(self) < 0) return NULL;
    fp_werror e;
    int rc;
    if (self->file) {
        rc = fp_out_flush(fp_writer_out(self->w), &e);
    } else {
        self->busy = 1;
        Py_BEGIN_ALLOW_THREADS
        rc = fp_out_flush(fp_writer_out(self->w), &e);
        Py_END_ALLOW_THREADS
        self->busy = 0;
    }
    if (rc < 0) {
        set_error(&e);
        return NULL;
    }
    if (self->file && PyObject_HasAttrString(self->file, "flush")) {
        PyObject *r = PyObject_CallMethod(self->file, "flush", NULL);
        if (r == NULL) return NULL;
        Py_DECREF(r);
    }
    Py_RETURN_NONE;
}

static PyObject *writer_close(PyObject *op, PyObject *unused)
{
    (void)unused;
    fp_writer_obj *self = W(op);
    if (check_idle(self) < 0) return NULL;
    fp_writer *w = self->w;
    if (w == NULL) Py_RETURN_NONE;
    self->w = NULL;
    fp_werror e;
    int rc;
    if (self->file) {
        rc = fp_writer_commit(w, &e);
    } else {
        Py_BEGIN_ALLOW_THREADS
        rc = fp_writer_commit(w, &e);
        Py_END_ALLOW_THREADS
    }
    Py_CLEAR(self->file);
    if (rc < 0) {
        set_error(&e);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *writer_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(W(self)) < 0) return NULL;
    return Py_NewRef(self);
}

/* An exception in the with block: a temporary file is removed (the target stays
 * as it was); a file written in place keeps what was written. */
static PyObject *writer_exit(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    fp_writer_obj *self = W(op);
    if (check_idle(self) < 0) return NULL;
    if (nargs >= 1 && args[0] != Py_None && self->w) {
        fp_writer *w = self->w;
        self->w = NULL;
        fp_writer_abort(w);
        Py_CLEAR(self->file);
        Py_RETURN_NONE;
    }
    return writer_close(op, NULL);
}

static int writer_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(W(self)->file);
    return 0;
}

static int writer_clear(PyObject *self)
{
    Py_CLEAR(W(self)->file);
    Py_CLEAR(W(self)->path);
    return 0;
}

/* Like a file object: an unclosed Writer is closed (and a temporary file renamed)
 * when collected; errors cannot be reported then. */
static void writer_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (W(self)->w) {
        fp_werror e;
        if (W(self)->file) {
            PyObject *t, *v, *tb;
            PyErr_Fetch(&t, &v, &tb);
            fp_writer_commit(W(self)->w, &e);
            PyErr_Clear();
            PyErr_Restore(t, v, tb);
        } else {
            fp_writer_commit(W(self)->w, &e);
        }
        W(self)->w = NULL;
    }
    Py_CLEAR(W(self)->file);
    Py_CLEAR(W(self)->path);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* ---- attributes --------------------------------------------------------------- */

static PyObject *get_written(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(W(self)->written);
}
static PyObject *get_path(PyObject *self, void *c)
{
    (void)c;
    return Py_NewRef(W(self)->path ? W(self)->path : Py_None);
}
static PyObject *get_closed(PyObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(W(self)->w == NULL);
}
static PyObject *get_format(PyObject *self, void *c)
{
    (void)c;
    if (check_open(W(self)) < 0) return NULL;
    return PyUnicode_FromString(fp_writer_format(W(self)->w) == FP_WFORMAT_PCAPNG ? "pcapng" : "pcap");
}
static PyObject *get_bytes_written(PyObject *self, void *c)
{
    (void)c;
    if (check_open(W(self)) < 0) return NULL;
    return PyLong_FromUnsignedLongLong(fp_out_bytes(fp_writer_out(W(self)->w)));
}
static PyObject *get_replacing(PyObject *self, void *c)
{
    (void)c;
    if (check_open(W(self)) < 0) return NULL;
    return PyBool_FromLong(fp_out_replacing(fp_writer_out(W(self)->w)));
}
static PyObject *get_linktype(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(W(self)->linktype);
}
static PyObject *get_interfaces(PyObject *self, void *c)
{
    (void)c;
    fp_writer_obj *w = W(self);
    if (check_open(w) < 0) return NULL;
    uint32_t n = fp_writer_interface_count(w->w);
    PyObject *list = PyList_New(n);
    for (uint32_t i = 0; list && i < n; i++) {
        const fp_winterface *f = fp_writer_interface(w->w, i);
        PyObject *d = Py_BuildValue("{sIsIsKsLszsI}", "linktype", f->linktype, "snaplen", f->snaplen, "tsresol",
                                    (unsigned long long)f->tsresol, "tsoffset", (long long)f->tsoffset_s, "name",
                                    f->name, "fcslen", f->fcs_len);
        if (d == NULL) Py_CLEAR(list);
        else PyList_SET_ITEM(list, i, d);
    }
    return list;
}

static PyGetSetDef writer_getset[] = {
    {"packets_written", get_written, NULL, "Records written so far.", NULL},
    {"bytes_written", get_bytes_written, NULL, "Bytes of output so far (headers and buffered records included).", NULL},
    {"closed", get_closed, NULL, "True after close().", NULL},
    {"path", get_path, NULL, "The file path written to (str); None for a file object.", NULL},
    {"format", get_format, NULL, "'pcap' or 'pcapng'.", NULL},
    {"linktype", get_linktype, NULL, "pcap: the file's link type; pcapng: the one raw bytes are written with.", NULL},
    {"interfaces", get_interfaces, NULL, "pcapng: the interfaces declared so far (dicts, by id).", NULL},
    {"replacing", get_replacing, NULL,
     "True when the output is a temporary file renamed over the path at close() (atomic=True,\n"
     "or the path is a file this process is reading).", NULL},
    {NULL},
};

static PyMethodDef writer_methods[] = {
    {"write", (PyCFunction)(void (*)(void))writer_write, METH_VARARGS | METH_KEYWORDS,
     "write(packet, time=None, time_ns=None, wirelen=None, *, interface=None, comment=None, flags=None)\n\n"
     "Append a Packet (its own time, lengths and, in pcapng, options) or raw bytes (time\n"
     "defaults to 0). pcapng: the packet goes to `interface`, else (with interfaces=) to its\n"
     "own index, else to the first interface with its link type (added when missing);\n"
     "comment/flags set opt_comment/epb_flags. Values the format cannot hold raise ValueError."},
    {"write_all", writer_write_all, METH_O,
     "write_all(packets) -> int\n\nwrite() every item of an iterable with its own time and lengths; a\n"
     "PacketList is written from its record table in C, without making Packet objects."},
    {"record_size", (PyCFunction)(void (*)(void))writer_record_size, METH_VARARGS | METH_KEYWORDS,
     "record_size(packet, ...): bytes write() with the same arguments would add."},
    {"add_interface", (PyCFunction)(void (*)(void))writer_add_interface, METH_VARARGS | METH_KEYWORDS,
     "add_interface(linktype, *, snaplen=None, tsresol=None, tsoffset=0, name=None, fcslen=0) -> id\n\n"
     "pcapng: declare an interface (tsresol in units per second: 10**6, 10**9, 2**k, ...; fcslen:\n"
     "the FCS bytes ending its frames, written as if_fcslen)."},
    {"flush", writer_flush, METH_NOARGS, "Write buffered records out (to the temporary file when replacing)."},
    {"close", writer_close, METH_NOARGS, "Flush and close (idempotent); a temporary file is renamed over the path."},
    {"__enter__", writer_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))writer_exit, METH_FASTCALL, NULL},
    FP_VIEW_METHOD,
    {NULL},
};

PyDoc_STRVAR(writer_doc,
             "Writer(path, linktype=None, snaplen=262144, nanosecond=None, big_endian=False, header=None, *,\n"
             "       format=None, interfaces=None, atomic=False, fcslen=None)\n--\n\n"
             "Streaming pcap or pcapng writer; a context manager. path: a file path or a binary file\n"
             "object. format: 'pcap' or 'pcapng'; None: from header=, else from the extension\n"
             "(.pcapng/.ntar), else pcap.\n"
             "pcap: linktype (default 1), snaplen, nanosecond (default False), big_endian; header=\n"
             "copies a 24-byte pcap file header exactly (PacketList.file_header). fcslen: the FCS bytes\n"
             "ending every frame (0 to 30, even), declared in the header's link type field as libpcap\n"
             "reads it; with it (or header=) a Packet declaring another FCS length is refused.\n"
             "pcapng: interfaces=[{linktype, snaplen, tsresol, tsoffset, name, fcslen}, ...] declares\n"
             "interfaces and makes packets keep their interface index; else one is added per link type\n"
             "and FCS length (snaplen, nanosecond (default True) resolution, fcslen as if_fcslen: a Packet\n"
             "read from a capture declaring an FCS goes to an interface declaring it; fcslen= sets the\n"
             "one made for linktype=). header= copies pcapng blocks (PacketList.file_header) whose\n"
             "interfaces the first entries of interfaces= describe.\n"
             "A path this process is reading is never truncated: the output goes to a temporary file\n"
             "renamed over it at close(); atomic=True does that always. An exception in a with block\n"
             "removes the temporary file and leaves the path as it was.");

static PyType_Slot writer_slots[] = {
    {Py_tp_doc, (void *)writer_doc},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, writer_init},
    {Py_tp_dealloc, writer_dealloc},
    {Py_tp_traverse, writer_traverse},
    {Py_tp_clear, writer_clear},
    {Py_tp_getset, writer_getset},
    {Py_tp_methods, writer_methods},
    {0, NULL},
};

static PyType_Spec writer_spec = {
    .name = "fastpkt.Writer",
    .basicsize = sizeof(fp_writer_obj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = writer_slots,
};

int fp_writer_register(PyObject *m, fp_state *st)
{
    st->Writer_Type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &writer_spec, NULL);
    if (st->Writer_Type == NULL) return -1;
    return PyModule_AddType(m, st->Writer_Type);
}
