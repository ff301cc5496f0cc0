/* _fptest: the test extension's module (stateless, multi-phase init). */
#include "fptest.h"

static int fptest_exec(PyObject *m)
{
    if (fptest_add_tls_hello(m) < 0) return -1;
    return fptest_add_quic(m);
}

static PyModuleDef_Slot fptest_slots[] = {
    {Py_mod_exec, fptest_exec},
    {0, NULL},
};

static struct PyModuleDef fptest_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_fptest",
    .m_doc = "Test bridges to fastpkt's C core (TLS hello assembler and parser, QUIC Initials).",
    .m_size = 0,
    .m_slots = fptest_slots,
};

PyMODINIT_FUNC PyInit__fptest(void) { return PyModuleDef_Init(&fptest_module); }
