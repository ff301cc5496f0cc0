/* Binary file objects as an fp_input. Reading through the object's own
 * readinto() (or read()) instead of its descriptor keeps Python's view of the
 * data: bytes already buffered, the position, and wrappers such as gzip.open()
 * or BytesIO that have no descriptor. Sources pull with the GIL released, so
 * the callback takes it for the call only. */
#include "pyfp.h"

/* One call asks for at most this much (Py_ssize_t-safe, and bounded per GIL hold). */
#define PY_READ_MAX ((size_t)1 << 30)

typedef struct {
    PyObject *file;         /* borrowed: the Reader holds it where the GC can see it */
    int has_readinto;       /* else read() */
    PyObject **exc_slot;    /* the Reader's input_exc */
} py_input;

/* Copy what read() returned into buf: bytes-like only, never more than asked. */
static Py_ssize_t take_read_result(PyObject *res, uint8_t *buf, size_t len)
{
    if (PyUnicode_Check(res)) {
        PyErr_SetString(PyExc_TypeError,
                        "the file object returned str: open the capture in binary mode ('rb')");
        return -1;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(res, &view, PyBUF_SIMPLE) < 0) return -1;
    Py_ssize_t n = view.len;
    if ((size_t)n > len) {
        PyErr_Format(PyExc_OSError, "the file object's read(%zu) returned %zd bytes", len, n);
        n = -1;
    } else {
        memcpy(buf, view.buf, (size_t)n);
    }
    PyBuffer_Release(&view);
    return n;
}

static Py_ssize_t call_readinto(PyObject *file, uint8_t *buf, size_t len)
{
    PyObject *mv = PyMemoryView_FromMemory((char *)buf, (Py_ssize_t)len, PyBUF_WRITE);
    if (mv == NULL) return -1;
    PyObject *res = PyObject_CallMethod(file, "readinto", "O", mv);
    /* The buffer is ours and moves: the object must not keep a view of it. */
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *released = PyObject_CallMethod(mv, "release", NULL);
    Py_DECREF(mv);
    if (released == NULL) {
        Py_XDECREF(res);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return -1;
    }
    Py_DECREF(released);
    PyErr_Restore(type, value, tb);
    if (res == NULL) return -1;
    Py_ssize_t n = -1;
    if (res == Py_None)
        PyErr_SetString(PyExc_OSError, "the file object's readinto() returned None (no data "
                                       "ready): non-blocking files cannot be read");
    else if ((n = PyLong_AsSsize_t(res)) == -1 && PyErr_Occurred())
        n = -1;
    else if (n < 0 || (size_t)n > len) {
        PyErr_Format(PyExc_OSError, "the file object's readinto() returned %zd for a %zu-byte "
                                    "buffer", n, len);
        n = -1;
    }
    Py_DECREF(res);
    return n;
}

static int64_t py_read(void *ctx, uint8_t *buf, size_t len, fp_error *err)
{
    py_input *in = ctx;
    if (len > PY_READ_MAX) len = PY_READ_MAX;
    PyGILState_STATE g = PyGILState_Ensure();
    Py_ssize_t n;
    if (in->has_readinto) {
        n = call_readinto(in->file, buf, len);
    } else {
        PyObject *res = PyObject_CallMethod(in->file, "read", "n", (Py_ssize_t)len);
        n = res ? take_read_result(res, buf, len) : -1;
        Py_XDECREF(res);
    }
    if (n < 0) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (tb) PyException_SetTraceback(value, tb);
        PyObject *text = value ? PyObject_Str(value) : NULL;
        const char *msg = text ? PyUnicode_AsUTF8(text) : NULL;
        if (msg == NULL) PyErr_Clear();
        err->kind = FP_ERR_IO;
        err->sys_errno = 0;
        snprintf(err->message, sizeof err->message, "reading the file object failed: %s: %s",
                 type ? ((PyTypeObject *)type)->tp_name : "error", msg ? msg : "?");
        Py_XDECREF(text);
        Py_XSETREF(*in->exc_slot, value);
        Py_XDECREF(type);
        Py_XDECREF(tb);
    }
    PyGILState_Release(g);
    return n;
}

static void py_close(void *ctx) { PyMem_RawFree(ctx); }

int fp_pyinput_check(PyObject *o)
{
    return PyObject_HasAttrString(o, "readinto") || PyObject_HasAttrString(o, "read");
}

int fp_pyinput_new(PyObject *file, PyObject **exc_slot, fp_input *out)
{
    py_input *in = PyMem_RawCalloc(1, sizeof *in);
    if (in == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    in->file = file;
    in->has_readinto = PyObject_HasAttrString(file, "readinto");
    in->exc_slot = exc_slot;
    out->read = py_read;
    out->close = py_close;
    out->ctx = in;
    return 0;
}
