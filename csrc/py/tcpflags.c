/* TCPFlags: the 9 TCP flag bits as an int-like object with Scapy's letters (FSRPAUECN). */
#include "pyfp.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    unsigned value;
} FpTCPFlags;

#define TF(o) ((FpTCPFlags *)(o))
static const char tcp_flag_letters[] = "FSRPAUECN"; /* bit 0 .. bit 8, Scapy's order */

static void tf_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static inline int is_tcpflags(PyObject *o) { return Py_TYPE(o)->tp_dealloc == tf_dealloc; }

PyObject *fp_tcpflags_new(fp_state *st, unsigned flags)
{
    PyTypeObject *tp = st->TCPFlags_Type;
    FpTCPFlags *f = (FpTCPFlags *)PyObject_Malloc((size_t)tp->tp_basicsize);
    if (f == NULL) return PyErr_NoMemory();
    PyObject_Init((PyObject *)f, tp);
    f->value = flags & 0x1ff;
    return (PyObject *)f;
}

/* Letters to a mask: 0 ok, -1 on a letter that is not a flag. */
static int tf_parse(PyObject *s, unsigned *mask)
{
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);
    if (p == NULL) return -2;
    unsigned m = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *hit = p[i] ? strchr(tcp_flag_letters, p[i]) : NULL;
        if (hit == NULL) return -1;
        m |= 1u << (hit - tcp_flag_letters);
    }
    *mask = m;
    return 0;
}

static PyObject *tf_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"value", NULL};
    PyObject *v = NULL;
    unsigned mask = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:TCPFlags", kwlist, &v)) return NULL;
    if (v == NULL) {
        mask = 0;
    } else if (is_tcpflags(v)) {
        mask = TF(v)->value;
    } else if (PyUnicode_Check(v)) {
        int r = tf_parse(v, &mask);
        if (r == -2) return NULL;
        if (r < 0) {
            PyErr_Format(PyExc_ValueError, "invalid TCP flag letters %R (use FSRPAUECN)", v);
            return NULL;
        }
    } else {
        long x = PyLong_AsLong(v);
        if (x == -1 && PyErr_Occurred()) return NULL;
        if (x < 0 || x > 0x1ff) {
            PyErr_Format(PyExc_ValueError, "TCP flags must be in 0..0x1ff, not %ld", x);
            return NULL;
        }
        mask = (unsigned)x;
    }
    PyObject *o = tp->tp_alloc(tp, 0);
    if (o != NULL) TF(o)->value = mask;
    return o;
}

static PyObject *tf_str(PyObject *self)
{
    char buf[10];
    Py_ssize_t n = 0;
    for (int i = 0; i < 9; i++)
        if (TF(self)->value & (1u << i)) buf[n++] = tcp_flag_letters[i];
    return fp_ascii_str(buf, n);
}

static PyObject *tf_repr(PyObject *self)
{
    PyObject *s = tf_str(self);
    if (s == NULL) return NULL;
    PyObject *r = PyUnicode_FromFormat("<TCPFlags %U>", s);
    Py_DECREF(s);
    return r;
}

static Py_hash_t tf_hash(PyObject *self) { return (Py_hash_t)TF(self)->value; } /* == hash(int) */

static PyObject *tf_int(PyObject *self) { return PyLong_FromUnsignedLong(TF(self)->value); }

static int tf_bool(PyObject *self) { return TF(self)->value != 0; }

/* Operand as a new int reference, or NULL without an error when not int-like. */
static PyObject *tf_operand(PyObject *o)
{
    if (is_tcpflags(o)) return PyLong_FromUnsignedLong(TF(o)->value);
    if (PyLong_Check(o)) return Py_NewRef(o);
    return NULL;
}

static PyObject *tf_binop(PyObject *a, PyObject *b, binaryfunc op)
{
    PyObject *x = tf_operand(a);
    if (x == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *y = tf_operand(b);
    if (y == NULL) {
        Py_DECREF(x);
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *r = op(x, y);
    Py_DECREF(x);
    Py_DECREF(y);
    return r;
}

static PyObject *tf_and(PyObject *a, PyObject *b) { return tf_binop(a, b, PyNumber_And); }
static PyObject *tf_or(PyObject *a, PyObject *b) { return tf_binop(a, b, PyNumber_Or); }
static PyObject *tf_xor(PyObject *a, PyObject *b) { return tf_binop(a, b, PyNumber_Xor); }

static PyObject *tf_richcompare(PyObject *self, PyObject *other, int op)
{
    if (PyUnicode_Check(other)) {
        if (op != Py_EQ && op != Py_NE) Py_RETURN_NOTIMPLEMENTED;
        unsigned mask;
        int r = tf_parse(other, &mask);
        if (r == -2) return NULL;
        int eq = r == 0 && mask == TF(self)->value;
        return PyBool_FromLong(op == Py_EQ ? eq : !eq);
    }
    PyObject *y = tf_operand(other);
    if (y == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *x = PyLong_FromUnsignedLong(TF(self)->value);
    PyObject *r = x ? PyObject_RichCompare(x, y, op) : NULL;
    Py_XDECREF(x);
    Py_DECREF(y);
    return r;
}

/* 'S' in flags, 'SA' in flags: every letter set. */
static int tf_contains(PyObject *self, PyObject *letters)
{
    if (is_tcpflags(letters)) return (TF(self)->value & TF(letters)->value) == TF(letters)->value;
    if (!PyUnicode_Check(letters)) {
        PyErr_Format(PyExc_TypeError, "'in <TCPFlags>' needs flag letters as a str, not %.100s",
                     Py_TYPE(letters)->tp_name);
        return -1;
    }
    unsigned mask;
    int r = tf_parse(letters, &mask);
    if (r == -2) return -1;
    if (r < 0) return 0;
    return (TF(self)->value & mask) == mask;
}

static PyObject *tf_get_bit(PyObject *self, void *closure)
{
    return PyBool_FromLong((TF(self)->value >> (int)(intptr_t)closure) & 1);
}

static PyObject *tf_get_value(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(TF(self)->value);
}

static PyGetSetDef tf_getset[] = {
    {"F", tf_get_bit, NULL, "FIN (0x001).", (void *)0},
    {"S", tf_get_bit, NULL, "SYN (0x002).", (void *)1},
    {"R", tf_get_bit, NULL, "RST (0x004).", (void *)2},
    {"P", tf_get_bit, NULL, "PSH (0x008).", (void *)3},
    {"A", tf_get_bit, NULL, "ACK (0x010).", (void *)4},
    {"U", tf_get_bit, NULL, "URG (0x020).", (void *)5},
    {"E", tf_get_bit, NULL, "ECE (0x040).", (void *)6},
    {"C", tf_get_bit, NULL, "CWR (0x080).", (void *)7},
    {"N", tf_get_bit, NULL, "NS, ECN nonce (0x100).", (void *)8},
    {"value", tf_get_value, NULL, "The flags as an int.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(tf_doc,
             "TCPFlags(value=0)\n--\n\n"
             "TCP flags (9 bits, Scapy's FSRPAUECN order). Int-like: int(f), f & 0x02, f | x,\n"
             "f == 0x12; str(f) gives letters ('SA' for SYN+ACK, 'PA' for PSH+ACK) and\n"
             "f == 'SA' compares by the set of letters; 'S' in f; attributes F S R P A U E C N.");

static PyType_Slot tf_slots[] = {
    {Py_tp_dealloc, tf_dealloc},
    {Py_tp_new, tf_new},
    {Py_tp_repr, tf_repr},
    {Py_tp_str, tf_str},
    {Py_tp_hash, tf_hash},
    {Py_tp_richcompare, tf_richcompare},
    {Py_tp_getset, tf_getset},
    {Py_tp_doc, (void *)tf_doc},
    {Py_nb_int, tf_int},
    {Py_nb_index, tf_int},
    {Py_nb_bool, tf_bool},
    {Py_nb_and, tf_and},
    {Py_nb_or, tf_or},
    {Py_nb_xor, tf_xor},
    {Py_sq_contains, tf_contains},
    {0, NULL},
};

static PyType_Spec tf_spec = {
    .name = "fastpkt.TCPFlags",
    .basicsize = sizeof(FpTCPFlags),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = tf_slots,
};

int fp_tcpflags_register(PyObject *m, fp_state *st)
{
    st->TCPFlags_Type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &tf_spec, NULL);
    if (st->TCPFlags_Type == NULL) return -1;
    return PyModule_AddType(m, st->TCPFlags_Type);
}
