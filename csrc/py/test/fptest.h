/* _fptest: bridges that expose parts of the Python-free core to the tests. Built with
 * every in-place build (setup.py), never part of the wheel. */
#ifndef FP_FPTEST_H
#define FP_FPTEST_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

int fptest_add_tls_hello(PyObject *m); /* tls.c */
int fptest_add_quic(PyObject *m);      /* quic.c */

#endif
