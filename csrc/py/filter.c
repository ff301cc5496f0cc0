/* Display filters from Python: fastpkt.DisplayFilter (a compiled csrc/filter program),
 * compile_filter() and FilterError, whose message repeats the expression with a caret
 * under the offending token as tshark prints it. */
#include "pyfp.h"

#include "../dissect/fields.h"
#include "../filter/filter.h"

static void raise_filter_error(fp_state *st, const char *expr, const fp_filter_error *e)
{
    /* tshark's layout: the message, then the expression and the caret line indented 4 */
    size_t n = strlen(expr);
    int col = e->column < 0 ? 0 : e->column > (int)n ? (int)n : e->column;
    int len = e->length > 0 ? e->length : 1;
    size_t mlen = strlen(e->message);
    char *text = PyMem_Malloc(mlen + 2 * n + (size_t)col + (size_t)len + 16);
    if (text == NULL) {
        PyErr_NoMemory();
        return;
    }
    char *w = text + sprintf(text, "%s\n    %s\n    ", e->message, expr);
    memset(w, ' ', (size_t)col);
    w += col;
    *w++ = '^';
    memset(w, '~', (size_t)len - 1);
    w[len - 1] = '\0';
    PyObject *msg = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
    PyMem_Free(text);
    PyObject *exc = msg ? PyObject_CallOneArg(st->FilterError, msg) : NULL;
    Py_XDECREF(msg);
    if (exc == NULL)
        return;
    PyObject *v;
    int bad = 0;
    bad |= (v = PyUnicode_FromString(expr)) == NULL || PyObject_SetAttrString(exc, "expression", v) < 0;
    Py_XDECREF(v);
    bad |= (v = PyLong_FromLong(col)) == NULL || PyObject_SetAttrString(exc, "column", v) < 0;
    Py_XDECREF(v);
    bad |= (v = PyLong_FromLong(e->length)) == NULL || PyObject_SetAttrString(exc, "length", v) < 0;
    Py_XDECREF(v);
    bad |= (v = PyUnicode_FromString(e->message)) == NULL || PyObject_SetAttrString(exc, "reason", v) < 0;
    Py_XDECREF(v);
    if (!bad)
        PyErr_SetObject(st->FilterError, exc);
    Py_DECREF(exc);
}

static PyObject *dfilter_new_from(fp_state *st, PyTypeObject *type, PyObject *expr)
{
    Py_ssize_t size;
    const char *s = PyUnicode_AsUTF8AndSize(expr, &size);
    if (s == NULL)
        return NULL;
    if (strlen(s) != (size_t)size) {
        PyErr_SetString(PyExc_ValueError, "display filter contains a NUL character");
        return NULL;
    }
    fp_filter_error err;
    fp_filter *f;
    Py_BEGIN_ALLOW_THREADS
    f = fp_filter_compile(s, &err);
    Py_END_ALLOW_THREADS
    if (f == NULL) {
        raise_filter_error(st, s, &err);
        return NULL;
    }
    FpDisplayFilter *o = PyObject_New(FpDisplayFilter, type);
    if (o == NULL) {
        fp_filter_free(f);
        return NULL;
    }
    o->filter = f;
    o->expression = Py_NewRef(expr);
    return (PyObject *)o;
}

static PyObject *dfilter_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"expression", NULL};
    PyObject *expr;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "U:DisplayFilter", kwlist, &expr))
        return NULL;
    fp_state *st = fp_state_from_type(type);
    return st ? dfilter_new_from(st, type, expr) : NULL;
}

static void dfilter_dealloc(PyObject *self)
{
    FpDisplayFilter *o = (FpDisplayFilter *)self;
    PyTypeObject *tp = Py_TYPE(self);
    fp_filter_free(o->filter);
    Py_XDECREF(o->expression);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *dfilter_repr(PyObject *self)
{
    return PyUnicode_FromFormat("DisplayFilter(%R)", ((FpDisplayFilter *)self)->expression);
}

static PyObject *dfilter_match(PyObject *self, PyObject *pkt)
{
    FpDisplayFilter *o = (FpDisplayFilter *)self;
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (st == NULL)
        return NULL;
    if (!PyObject_TypeCheck(pkt, st->Packet_Type)) {
        PyErr_Format(PyExc_TypeError, "match() takes a fastpkt Packet, not %.100s", Py_TYPE(pkt)->tp_name);
        return NULL;
    }
    const FpPacket *p = (const FpPacket *)pkt;
    fp_field_ctx x;
    fp_field_ctx_init(&x, p->data, p->caplen, p->wire ? p->wire->wirelen : p->wirelen, p->ts_ns, p->has_ts, &p->d);
    if (p->wire) x.frame_caplen = p->wire->caplen; /* a reassembled datagram: the frame's */
    return PyBool_FromLong(fp_filter_match(o->filter, &x));
}

static PyObject *dfilter_get_expression(PyObject *self, void *c)
{
    (void)c;
    return Py_NewRef(((FpDisplayFilter *)self)->expression);
}

static PyMethodDef dfilter_methods[] = {
    {"match", dfilter_match, METH_O,
     "match(pkt) -> bool\n--\n\nWhether the packet passes the filter (frame.number is unknown "
     "for a lone Packet: tests of it are false)."},
    {NULL},
};

static PyGetSetDef dfilter_getset[] = {
    {"expression", dfilter_get_expression, NULL, "The filter's text.", NULL},
    {NULL},
};

PyDoc_STRVAR(dfilter_doc,
             "DisplayFilter(expression)\n--\n\n"
             "A Wireshark display filter (tshark -Y syntax) compiled to a C program over the\n"
             "fields fastpkt dissects (fastpkt.field_names()). Pass it, or the text, as\n"
             "display_filter= to open/read/flows/streams/client_hellos/http/sniff; it runs\n"
             "in C with the GIL released. A bad expression raises FilterError.");

static PyType_Slot dfilter_slots[] = {
    {Py_tp_new, dfilter_tp_new},
    {Py_tp_dealloc, dfilter_dealloc},
    {Py_tp_repr, dfilter_repr},
    {Py_tp_methods, dfilter_methods},
    {Py_tp_getset, dfilter_getset},
    {Py_tp_doc, (void *)dfilter_doc},
    {0, NULL},
};

static PyType_Spec dfilter_spec = {
    .name = "fastpkt.DisplayFilter",
    .basicsize = sizeof(FpDisplayFilter),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = dfilter_slots,
};

PyObject *fp_display_filter_from(fp_state *st, PyObject *obj)
{
    if (PyObject_TypeCheck(obj, st->DisplayFilter_Type))
        return Py_NewRef(obj);
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "display_filter must be a Wireshark display filter string such as "
                     "'tcp.port == 443' or a DisplayFilter, not %.100s", Py_TYPE(obj)->tp_name);
        return NULL;
    }
    return dfilter_new_from(st, st->DisplayFilter_Type, obj);
}

static PyObject *compile_filter(PyObject *m, PyObject *expr)
{
    fp_state *st = fp_state_from_module(m);
    if (!PyUnicode_Check(expr)) {
        PyErr_Format(PyExc_TypeError, "compile_filter() takes a str, not %.100s", Py_TYPE(expr)->tp_name);
        return NULL;
    }
    return dfilter_new_from(st, st->DisplayFilter_Type, expr);
}

static PyMethodDef filter_functions[] = {
    {"compile_filter", compile_filter, METH_O,
     "compile_filter(expression) -> DisplayFilter\n--\n\n"
     "Compile a Wireshark display filter (tshark -Y syntax); FilterError when invalid."},
    {NULL},
};

int fp_filter_register(PyObject *m, fp_state *st)
{
    PyObject *bases = PyTuple_Pack(2, st->Error, PyExc_ValueError);
    if (bases == NULL)
        return -1;
    PyObject *dict = Py_BuildValue("{s:O,s:O,s:O,s:O}", "expression", Py_None, "column", Py_None,
                                   "length", Py_None, "reason", Py_None);
    if (dict == NULL) {
        Py_DECREF(bases);
        return -1;
    }
    st->FilterError = PyErr_NewExceptionWithDoc(
        "fastpkt.FilterError",
        "A display filter that does not compile. `column` is the offset of the offending\n"
        "token in `expression` (`length` its length, 0 at the end), `reason` the message\n"
        "without the caret lines (tshark's wording where tshark has one).",
        bases, dict);
    Py_DECREF(bases);
    Py_DECREF(dict);
    if (st->FilterError == NULL || PyModule_AddObjectRef(m, "FilterError", st->FilterError) < 0)
        return -1;
    st->DisplayFilter_Type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &dfilter_spec, NULL);
    if (st->DisplayFilter_Type == NULL ||
        PyModule_AddObjectRef(m, "DisplayFilter", (PyObject *)st->DisplayFilter_Type) < 0)
        return -1;
    return PyModule_AddFunctions(m, filter_functions);
}
