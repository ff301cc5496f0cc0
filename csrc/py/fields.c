/* Wireshark-named field access: Packet.field(name) and fastpkt._fastpkt.field_names(),
 * over the registry of csrc/dissect/fields.h. */
#include "pyfp.h"

#include "../dissect/fields.h"

static PyObject *value_obj(const fp_field *f, const fp_field_value *v)
{
    switch ((fp_field_type)f->type) {
    case FP_FT_UINT: return PyLong_FromUnsignedLongLong(v->u);
    case FP_FT_BOOL: return PyBool_FromLong(v->u != 0);
    case FP_FT_IPV4: return fp_ip4_str(v->p);
    case FP_FT_IPV6: return fp_ip6_str(v->p);
    case FP_FT_MAC: return fp_mac_str(v->p);
    case FP_FT_STRING: return PyUnicode_DecodeLatin1((const char *)v->p, (Py_ssize_t)v->len, NULL);
    case FP_FT_TIME: return PyFloat_FromDouble((double)(int64_t)v->u / 1e9); /* as Packet.time */
    case FP_FT_BYTES: case FP_FT_PROTOCOL:
    default: return PyBytes_FromStringAndSize((const char *)v->p, (Py_ssize_t)v->len);
    }
}

typedef struct {
    const fp_field *f;
    PyObject *out; /* the list (all=True) or the first value */
    int all, failed;
} collect;

static int collect_value(void *arg, const fp_field_value *v)
{
    collect *c = arg;
    PyObject *o = value_obj(c->f, v);
    if (o == NULL) {
        c->failed = 1;
        return 1;
    }
    if (!c->all) {
        c->out = o;
        return 1;
    }
    int r = PyList_Append(c->out, o);
    Py_DECREF(o);
    c->failed = r < 0;
    return r < 0;
}

static const fp_field *lookup(PyObject *name)
{
    const char *s = PyUnicode_AsUTF8(name);
    if (s == NULL)
        return NULL;
    const fp_field *f = fp_field_lookup(s);
    if (f != NULL)
        return f;
    const char *near = fp_field_suggest(s);
    if (near != NULL)
        PyErr_Format(PyExc_ValueError, "\"%s\" is neither a field nor a protocol name; "
                     "did you mean \"%s\"?", s, near);
    else
        PyErr_Format(PyExc_ValueError, "\"%s\" is neither a field nor a protocol name", s);
    return NULL;
}

PyObject *fp_packet_field(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"name", "all", NULL};
    PyObject *name;
    int all = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "U|$p:field", kwlist, &name, &all))
        return NULL;
    const fp_field *f = lookup(name);
    if (f == NULL)
        return NULL;
    const FpPacket *p = (const FpPacket *)self;
    fp_field_ctx x;
    fp_field_ctx_init(&x, p->data, p->caplen, p->wire ? p->wire->wirelen : p->wirelen, p->ts_ns, p->has_ts, &p->d);
    if (p->wire) x.frame_caplen = p->wire->caplen; /* a reassembled datagram: the frame's */
    collect c = {f, all ? PyList_New(0) : NULL, all, 0};
    if (all && c.out == NULL)
        return NULL;
    fp_field_each(f, &x, collect_value, &c);
    if (c.failed) {
        Py_XDECREF(c.out);
        return NULL;
    }
    return c.out != NULL ? c.out : Py_NewRef(Py_None);
}

static PyObject *field_names(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    int n = 0;
    while (fp_field_at(n) != NULL)
        n++;
    PyObject *t = PyTuple_New(n);
    for (int i = 0; t != NULL && i < n; i++) {
        PyObject *s = PyUnicode_FromString(fp_field_at(i)->name);
        if (s == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

/* Wireshark's type names, as `tshark -G fields` prints them without the FT_ prefix. */
static const char *const type_names[] = {
    [FP_FT_UINT] = "uint", [FP_FT_BOOL] = "bool", [FP_FT_IPV4] = "ipv4",
    [FP_FT_IPV6] = "ipv6", [FP_FT_MAC] = "ether", [FP_FT_BYTES] = "bytes",
    [FP_FT_STRING] = "string", [FP_FT_TIME] = "time", [FP_FT_PROTOCOL] = "protocol",
};

static PyObject *field_info(PyObject *m, PyObject *name)
{
    if (!PyUnicode_Check(name))
        return PyErr_Format(PyExc_TypeError, "field_info() takes a str, not %.100s",
                            Py_TYPE(name)->tp_name);
    const fp_field *f = lookup(name);
    if (f == NULL)
        return NULL;
    int sized = f->type == FP_FT_UINT || f->type == FP_FT_BOOL;
    const char *dot = strchr(f->name, '.');
    PyObject *info = PyStructSequence_New(fp_state_from_module(m)->FieldInfo_Type);
    PyObject *items[4] = {
        PyUnicode_FromString(f->name),
        PyUnicode_FromString(type_names[f->type]),
        sized ? PyLong_FromLong(f->bits) : Py_NewRef(Py_None),
        PyUnicode_FromStringAndSize(f->name, dot ? dot - f->name : (Py_ssize_t)strlen(f->name)),
    };
    for (int i = 0; i < 4; i++) {
        if (items[i] == NULL || info == NULL) {
            for (int k = i; k < 4; k++)
                Py_XDECREF(items[k]);
            Py_XDECREF(info);
            return NULL;
        }
        PyStructSequence_SetItem(info, i, items[i]);
    }
    return info;
}

static PyStructSequence_Field field_info_fields[] = {
    {"name", "The Wireshark name, as given to Packet.field()."},
    {"type", "'uint', 'bool', 'ipv4', 'ipv6', 'ether', 'string', 'bytes', 'time' or\n"
             "'protocol' (a protocol or a part Wireshark registers as one: its bytes)."},
    {"bits", "Width of a 'uint' or 'bool' field, else None."},
    {"protocol", "The protocol it belongs to (the name's first part)."},
    {NULL, NULL},
};
static PyStructSequence_Desc field_info_desc = {
    "fastpkt.FieldInfo",
    "What Packet.field() returns for a field: its Wireshark type and width.",
    field_info_fields,
    4,
};

static PyMethodDef field_functions[] = {
    {"field_names", field_names, METH_NOARGS,
     "Every field name Packet.field() knows (Wireshark's display-filter names), in "
     "protocol order."},
    {"field_info", field_info, METH_O,
     "field_info(name) -> FieldInfo(name, type, bits, protocol): what Packet.field(name)\n"
     "returns. ValueError for an unknown name (with the nearest known one)."},
    {NULL},
};

int fp_fields_register(PyObject *m, fp_state *st)
{
    if (fp_add_struct_type(m, &field_info_desc, &st->FieldInfo_Type, NULL) < 0)
        return -1;
    return PyModule_AddFunctions(m, field_functions);
}
