/* _set_link_rule: the C side of fastpkt.register_link_type (a link type decoded by a fixed
 * header rule in csrc/dissect/link.c, with no Python per packet). */
#include "pyfp.h"

static PyObject *set_link_rule(PyObject *m, PyObject *args)
{
    (void)m;
    unsigned long linktype, header_len;
    int next;
    long ethertype_off;
    if (!PyArg_ParseTuple(args, "kikl:_set_link_rule", &linktype, &next, &header_len, &ethertype_off))
        return NULL;
    if (linktype > 0xffff) {
        PyErr_Format(PyExc_ValueError, "link type %lu is out of range (0 to 65535)", linktype);
        return NULL;
    }
    if (fp_linktype_builtin((uint32_t)linktype)) {
        PyErr_Format(PyExc_ValueError, "link type %lu is decoded by fastpkt itself", linktype);
        return NULL;
    }
    if (next < FP_LINK_NEXT_IP4 || next > FP_LINK_NEXT_ETHERTYPE) {
        PyErr_Format(PyExc_ValueError, "unknown next-protocol code %d", next);
        return NULL;
    }
    if (header_len > FP_LINK_RULE_HEADER_MAX) {
        PyErr_Format(PyExc_ValueError, "header_len %lu is over %u", header_len, FP_LINK_RULE_HEADER_MAX);
        return NULL;
    }
    if (next == FP_LINK_NEXT_ETHERTYPE && (ethertype_off < 0 || (unsigned long)ethertype_off + 2 > header_len)) {
        PyErr_Format(PyExc_ValueError, "ethertype_offset %ld: the 2-byte EtherType must lie inside the "
                     "%lu-byte header", ethertype_off, header_len);
        return NULL;
    }
    if (fp_link_rule_set((uint32_t)linktype, next, (uint32_t)header_len,
                         next == FP_LINK_NEXT_ETHERTYPE ? (uint32_t)ethertype_off : 0) < 0) {
        PyErr_Format(PyExc_ValueError, "%d link types are registered already", FP_LINK_RULES_MAX);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef linktype_functions[] = {
    {"_set_link_rule", set_link_rule, METH_VARARGS,
     "_set_link_rule(linktype, next, header_len, ethertype_offset) -> None\n--\n\n"
     "Decode `linktype` by a fixed header rule (fastpkt.register_link_type); next: 1 IPv4,\n"
     "2 IPv6, 3 IP by version, 4 Ethernet, 5 the EtherType at ethertype_offset."},
    {NULL, NULL, 0, NULL},
};

int fp_linktype_register(PyObject *m)
{
    return PyModule_AddFunctions(m, linktype_functions);
}
