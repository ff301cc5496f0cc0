/* fastpkt._fastpkt: module definition, module state, exception hierarchy.
 * Multi-phase init with heap types (PEP 489/630): no process-wide mutable state. */
#include "pyfp.h"

static struct PyModuleDef fastpkt_module;

fp_state *fp_state_from_module(PyObject *m) { return (fp_state *)PyModule_GetState(m); }

fp_state *fp_state_from_type(PyTypeObject *tp)
{
    PyObject *m = PyType_GetModuleByDef(tp, &fastpkt_module);
    return m ? fp_state_from_module(m) : NULL;
}

void fp_raise_source_error(fp_state *st, const fp_error *err)
{
    PyObject *cls;
    if (err->kind == FP_ERR_IO) {
        /* OSError(errno, message) picks the subclass: FileNotFoundError, PermissionError ... */
        PyObject *exc = err->sys_errno ? PyObject_CallFunction(PyExc_OSError, "is", err->sys_errno, err->message)
                                       : PyObject_CallFunction(PyExc_OSError, "s", err->message);
        if (exc != NULL) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
        return;
    }
    if (err->kind == FP_ERR_NO_DEVICE || err->kind == FP_ERR_PERMISSION || err->kind == FP_ERR_FILTER) {
        cls = err->kind == FP_ERR_PERMISSION ? st->CapturePermissionError
              : err->kind == FP_ERR_FILTER    ? st->Error
                                              : st->CaptureError;
        PyErr_SetString(cls, err->message);
        return;
    }
    cls = err->kind == FP_ERR_TRUNCATED ? st->TruncatedError : st->FormatError;
    PyObject *exc = PyObject_CallFunction(cls, "s", err->message);
    if (exc == NULL) return;
    PyObject *off = PyLong_FromUnsignedLongLong(err->offset);
    PyObject *idx = PyLong_FromUnsignedLongLong(err->packet_index);
    if (off && idx && PyObject_SetAttrString(exc, "offset", off) == 0 &&
        PyObject_SetAttrString(exc, "packet_index", idx) == 0)
        PyErr_SetObject(cls, exc);
    Py_XDECREF(off);
    Py_XDECREF(idx);
    Py_DECREF(exc);
}

int fp_add_struct_type(PyObject *m, PyStructSequence_Desc *desc, PyTypeObject **type, const char *names_attr)
{
    *type = PyStructSequence_NewType(desc);
    if (*type == NULL || PyModule_AddType(m, *type) < 0) return -1;
    if (names_attr == NULL) return 0;
    PyObject *names = PyTuple_New(desc->n_in_sequence);
    if (names == NULL) return -1;
    for (int i = 0; i < desc->n_in_sequence; i++) {
        PyObject *n = PyUnicode_FromString(desc->fields[i].name);
        if (n == NULL) {
            Py_DECREF(names);
            return -1;
        }
        PyTuple_SET_ITEM(names, i, n);
    }
    if (PyModule_AddObject(m, names_attr, names) < 0) {
        Py_DECREF(names);
        return -1;
    }
    return 0;
}

PyObject *fp_call_method_py(const char *module, const char *func, PyObject *self, PyObject *args,
                            PyObject *kwargs)
{
    PyObject *mod = PyImport_ImportModule(module);
    PyObject *fn = mod ? PyObject_GetAttrString(mod, func) : NULL;
    Py_XDECREF(mod);
    if (fn == NULL) return NULL;
    Py_ssize_t n = args ? PyTuple_GET_SIZE(args) : 0;
    PyObject *full = PyTuple_New(n + 1);
    if (full == NULL) {
        Py_DECREF(fn);
        return NULL;
    }
    PyTuple_SET_ITEM(full, 0, Py_NewRef(self));
    for (Py_ssize_t i = 0; i < n; i++) PyTuple_SET_ITEM(full, i + 1, Py_NewRef(PyTuple_GET_ITEM(args, i)));
    PyObject *r = PyObject_Call(fn, full, kwargs);
    Py_DECREF(full);
    Py_DECREF(fn);
    return r;
}

static int add_exceptions(PyObject *m, fp_state *st)
{
    st->Error = PyErr_NewExceptionWithDoc(
        "fastpkt.Error", "Base class of every error fastpkt raises.", NULL, NULL);
    if (st->Error == NULL) return -1;
    PyObject *bases = PyTuple_Pack(2, st->Error, PyExc_ValueError);
    if (bases == NULL) return -1;
    PyObject *dict = Py_BuildValue("{s:O,s:O}", "offset", Py_None, "packet_index", Py_None);
    if (dict == NULL) {
        Py_DECREF(bases);
        return -1;
    }
    st->FormatError = PyErr_NewExceptionWithDoc(
        "fastpkt.FormatError",
        "The capture is not a valid pcap/pcapng file, or a record in it is corrupt.\n"
        "`offset` is the file offset of the bad header/record/block and `packet_index`\n"
        "the index the bad record would have had.",
        bases, dict);
    Py_DECREF(bases);
    Py_DECREF(dict);
    if (st->FormatError == NULL) return -1;
    st->TruncatedError = PyErr_NewExceptionWithDoc(
        "fastpkt.TruncatedError",
        "The capture ends inside a header or record (a file cut short). Every complete\n"
        "packet before it was delivered; open with on_error='stop' to end quietly instead.",
        st->FormatError, NULL);
    if (st->TruncatedError == NULL) return -1;
    if (PyModule_AddObjectRef(m, "Error", st->Error) < 0) return -1;
    if (PyModule_AddObjectRef(m, "FormatError", st->FormatError) < 0) return -1;
    if (PyModule_AddObjectRef(m, "TruncatedError", st->TruncatedError) < 0) return -1;
    bases = PyTuple_Pack(2, st->Error, PyExc_OSError);
    if (bases == NULL) return -1;
    st->CaptureError = PyErr_NewExceptionWithDoc(
        "fastpkt.CaptureError", "A live capture could not start or failed (no such interface, ...).",
        bases, NULL);
    Py_DECREF(bases);
    if (st->CaptureError == NULL) return -1;
    bases = PyTuple_Pack(2, st->CaptureError, PyExc_PermissionError);
    if (bases == NULL) return -1;
    st->CapturePermissionError = PyErr_NewExceptionWithDoc(
        "fastpkt.CapturePermissionError",
        "Capturing needs root, or CAP_NET_RAW and CAP_NET_ADMIN (setcap) on the Python binary.", bases, NULL);
    Py_DECREF(bases);
    if (st->CapturePermissionError == NULL) return -1;
    if (PyModule_AddObjectRef(m, "CaptureError", st->CaptureError) < 0) return -1;
    if (PyModule_AddObjectRef(m, "CapturePermissionError", st->CapturePermissionError) < 0) return -1;
    return 0;
}

static int add_anomaly_names(PyObject *m, fp_state *st)
{
    PyObject *all = PyTuple_New(FP_ANOM_COUNT_BITS);
    if (all == NULL) return -1;
    for (int i = 0; i < FP_ANOM_COUNT_BITS; i++) {
        st->anomaly_names[i] = PyUnicode_InternFromString(fp_anomaly_names[i]);
        if (st->anomaly_names[i] == NULL) {
            Py_DECREF(all);
            return -1;
        }
        PyTuple_SET_ITEM(all, i, Py_NewRef(st->anomaly_names[i]));
    }
    int rc = PyModule_AddObjectRef(m, "ANOMALIES", all);
    Py_DECREF(all);
    return rc;
}

static int fastpkt_exec(PyObject *m)
{
    fp_state *st = fp_state_from_module(m);
    if (add_exceptions(m, st) < 0) return -1;
    if (add_anomaly_names(m, st) < 0) return -1;
    if (fp_layers_register(m, st) < 0) return -1;
    if (fp_ppp_views_register(m, st) < 0) return -1;
    if (fp_tcpflags_register(m, st) < 0) return -1;
    if (fp_packet_register(m, st) < 0) return -1;
    if (fp_fields_register(m, st) < 0) return -1;
    if (fp_filter_register(m, st) < 0) return -1;
    if (fp_packetlist_register(m, st) < 0) return -1;
    if (fp_reader_register(m, st) < 0) return -1;
    if (fp_writer_register(m, st) < 0) return -1;
    if (fp_streams_register(m, st) < 0) return -1;
    if (fp_hellos_register(m, st) < 0) return -1;
    if (fp_dns_register(m, st) < 0) return -1;
    if (fp_capture_register(m, st) < 0) return -1;
    if (fp_http_register(m, st) < 0) return -1;
    if (fp_flows_register(m, st) < 0) return -1;
    if (fp_arrow_register(m) < 0) return -1;
    if (fp_info_register(m) < 0) return -1;
    if (fp_summary_register(m) < 0) return -1;
    if (fp_stats_register(m, st) < 0) return -1;
    if (fp_probe_register(m, st) < 0) return -1;
    if (fp_hotcache_register(m) < 0) return -1;
    if (fp_linktype_register(m) < 0) return -1;
    return 0;
}

static int fastpkt_traverse(PyObject *m, visitproc visit, void *arg)
{
    fp_state *st = fp_state_from_module(m);
    Py_VISIT(st->Packet_Type);
    Py_VISIT(st->Facade_Packet_Type);
    for (int i = 0; i < FP_L_COUNT; i++) Py_VISIT(st->Facade_Layer_Types[i]);
    Py_VISIT(st->Facade_Flag_Type);
    Py_VISIT(st->Facade_Raw_Type);
    for (int i = 0; i < 2; i++) Py_VISIT(st->facade_flag_names[i]);
    Py_VISIT(st->Reader_Type);
    Py_VISIT(st->PacketList_Type);
    Py_VISIT(st->Writer_Type);
    Py_VISIT(st->Flows_Type);
    Py_VISIT(st->Flow_Type);
    Py_VISIT(st->Streams_Type);
    Py_VISIT(st->Stream_Type);
    Py_VISIT(st->Gap_Type);
    Py_VISIT(st->StreamChunk_Type);
    Py_VISIT(st->ClientHellos_Type);
    Py_VISIT(st->ClientHello_Type);
    Py_VISIT(st->DnsTransactions_Type);
    Py_VISIT(st->DnsTransaction_Type);
    Py_VISIT(st->Raw_Type);
    for (int i = 0; i < FP_L_COUNT; i++) Py_VISIT(st->Layer_Types[i]);
    for (int i = 0; i < FP_HOT_VIEWS; i++) Py_VISIT(st->Hot_Types[i]);
    Py_VISIT(st->LayerBase_Type);
    for (int i = 0; i < FP_B_COUNT_MAX; i++) Py_VISIT(st->Build_Types[i]);
    Py_VISIT(st->DNSQR_Type);
    Py_VISIT(st->DNSRR_Type);
    for (int i = 0; i < 5; i++) Py_VISIT(st->PPPControl_Types[i]);
    Py_VISIT(st->PPPOption_Type);
    Py_VISIT(st->TCPFlags_Type);
    Py_VISIT(st->DisplayFilter_Type);
    Py_VISIT(st->FilterError);
    Py_VISIT(st->FieldInfo_Type);
    Py_VISIT(st->Error);
    Py_VISIT(st->FormatError);
    Py_VISIT(st->TruncatedError);
    Py_VISIT(st->CaptureError);
    Py_VISIT(st->CapturePermissionError);
    return 0;
}

static int fastpkt_clear(PyObject *m)
{
    fp_state *st = fp_state_from_module(m);
    Py_CLEAR(st->Packet_Type);
    Py_CLEAR(st->Facade_Packet_Type);
    for (int i = 0; i < FP_L_COUNT; i++) Py_CLEAR(st->Facade_Layer_Types[i]);
    Py_CLEAR(st->Facade_Flag_Type);
    Py_CLEAR(st->Facade_Raw_Type);
    for (int i = 0; i < 2; i++) Py_CLEAR(st->facade_flag_names[i]);
    Py_CLEAR(st->facade_flags_attr);
    Py_CLEAR(st->Reader_Type);
    Py_CLEAR(st->PacketList_Type);
    Py_CLEAR(st->Writer_Type);
    Py_CLEAR(st->Flows_Type);
    Py_CLEAR(st->Flow_Type);
    Py_CLEAR(st->Streams_Type);
    Py_CLEAR(st->Stream_Type);
    Py_CLEAR(st->Gap_Type);
    Py_CLEAR(st->StreamChunk_Type);
    Py_CLEAR(st->ClientHellos_Type);
    Py_CLEAR(st->ClientHello_Type);
    Py_CLEAR(st->DnsTransactions_Type);
    Py_CLEAR(st->DnsTransaction_Type);
    Py_CLEAR(st->Raw_Type);
    for (int i = 0; i < FP_L_COUNT; i++) Py_CLEAR(st->Layer_Types[i]);
    for (int i = 0; i < FP_HOT_VIEWS; i++) Py_CLEAR(st->Hot_Types[i]);
    Py_CLEAR(st->LayerBase_Type);
    for (int i = 0; i < FP_B_COUNT_MAX; i++) {
        Py_CLEAR(st->Build_Types[i]);
        for (int f = 0; f < 24; f++) Py_CLEAR(st->bnames[i][f]);
    }
    Py_CLEAR(st->DNSQR_Type);
    Py_CLEAR(st->DNSRR_Type);
    for (int i = 0; i < 5; i++) Py_CLEAR(st->PPPControl_Types[i]);
    Py_CLEAR(st->PPPOption_Type);
    Py_CLEAR(st->TCPFlags_Type);
    Py_CLEAR(st->DisplayFilter_Type);
    Py_CLEAR(st->FilterError);
    Py_CLEAR(st->FieldInfo_Type);
    Py_CLEAR(st->Error);
    Py_CLEAR(st->FormatError);
    Py_CLEAR(st->TruncatedError);
    Py_CLEAR(st->CaptureError);
    Py_CLEAR(st->CapturePermissionError);
    fp_hotcache_free(st);
    while (st->packet_free_n > 0) PyObject_Free(st->packet_free[--st->packet_free_n]);
    for (int i = 0; i < FP_ANOM_COUNT_BITS; i++) Py_CLEAR(st->anomaly_names[i]);
    for (int i = 0; i < 16; i++) Py_CLEAR(st->packet_fast_names[i]);
    for (int i = 0; i < FP_L_COUNT; i++) {
        for (int k = 0; k < st->layer_fast_n[i]; k++) Py_CLEAR(st->layer_fast[i][k].name);
        st->layer_fast_n[i] = 0;
    }
    return 0;
}

static void fastpkt_free(void *m) { fastpkt_clear((PyObject *)m); }

static PyModuleDef_Slot fastpkt_slots[] = {
    {Py_mod_exec, fastpkt_exec},
    {0, NULL},
};

PyDoc_STRVAR(module_doc,
             "fastpkt C core: pcap/pcapng readers, dissection into lazy packet views, BPF on\n"
             "files, pcap writer. Use the friendly API in the `fastpkt` package.");

static struct PyModuleDef fastpkt_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "fastpkt._fastpkt",
    .m_doc = module_doc,
    .m_size = sizeof(fp_state),
    .m_slots = fastpkt_slots,
    .m_traverse = fastpkt_traverse,
    .m_clear = fastpkt_clear,
    .m_free = fastpkt_free,
};

PyMODINIT_FUNC PyInit__fastpkt(void) { return PyModuleDef_Init(&fastpkt_module); }
