/* Live capture helpers of the bridge: the interface list (libpcap's pcap_findalldevs).
 * The capture itself is a Reader over a live source (reader.c, csrc/source/live.c). */
#include "pyfp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <sys/socket.h>

/* "ipv4"/"ipv6" and the text of an address, or NULL for other families. */
static PyObject *sockaddr_text(const struct sockaddr *sa)
{
    char buf[INET6_ADDRSTRLEN];
    if (sa == NULL) return Py_NewRef(Py_None);
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, sizeof buf);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, sizeof buf);
    else
        return Py_NewRef(Py_None);
    return PyUnicode_FromString(buf);
}

static PyObject *addresses(const pcap_if_t *d)
{
    PyObject *l = PyList_New(0);
    for (const pcap_addr_t *a = d->addresses; l && a; a = a->next) {
        if (a->addr == NULL || (a->addr->sa_family != AF_INET && a->addr->sa_family != AF_INET6)) continue;
        PyObject *t = Py_BuildValue("{s:s,s:N,s:N}", "family", a->addr->sa_family == AF_INET ? "ipv4" : "ipv6",
                                    "address", sockaddr_text(a->addr), "netmask", sockaddr_text(a->netmask));
        if (t == NULL || PyList_Append(l, t) < 0) Py_CLEAR(l);
        Py_XDECREF(t);
    }
    return l;
}

static PyObject *mod_interfaces(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    pcap_if_t *all = NULL;
    char eb[PCAP_ERRBUF_SIZE] = "";
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = pcap_findalldevs(&all, eb);
    Py_END_ALLOW_THREADS
    if (rc < 0) return PyErr_Format(PyExc_OSError, "cannot list interfaces: %s", eb);
    PyObject *l = PyList_New(0);
    for (pcap_if_t *d = all; l && d; d = d->next) {
        PyObject *t = Py_BuildValue("{s:s,s:z,s:N,s:O,s:O,s:O}", "name", d->name, "description", d->description,
                                    "addresses", addresses(d), "loopback",
                                    (d->flags & PCAP_IF_LOOPBACK) ? Py_True : Py_False, "up",
                                    (d->flags & PCAP_IF_UP) ? Py_True : Py_False, "running",
                                    (d->flags & PCAP_IF_RUNNING) ? Py_True : Py_False);
        if (t == NULL || PyList_Append(l, t) < 0) Py_CLEAR(l);
        Py_XDECREF(t);
    }
    pcap_freealldevs(all);
    return l;
}

static PyMethodDef capture_functions[] = {
    {"_interfaces", mod_interfaces, METH_NOARGS,
     "Interfaces libpcap can capture on: dicts of name, description, addresses, loopback, up, running."},
    {NULL},
};

int fp_capture_register(PyObject *m, fp_state *st)
{
    (void)st;
    return PyModule_AddFunctions(m, capture_functions);
}
