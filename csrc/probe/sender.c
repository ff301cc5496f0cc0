/* Raw sockets for send()/sendp()/sr(): IPv4 and IPv6 packets through SOCK_RAW with
 * IPPROTO_RAW (header included: the kernel routes them and resolves the next hop), Ethernet
 * frames through an AF_PACKET socket bound to one interface (sent byte for byte). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

struct fp_sender {
    int fd4, fd6; /* opened on first use */
    int fdl2;
    int ifindex;
    char iface[IF_NAMESIZE];
};

#define SETCAP_HINT "run as root, or grant the Python binary the capabilities with: " \
                    "setcap cap_net_raw,cap_net_admin=eip \"$(readlink -f $(which python3))\""

static void sock_error(fp_error *err, int e, const char *what)
{
    memset(err, 0, sizeof *err);
    err->sys_errno = e;
    if (e == EPERM || e == EACCES) {
        err->kind = FP_ERR_PERMISSION;
        snprintf(err->message, sizeof err->message, "%s needs privileges (%s): " SETCAP_HINT, what, strerror(e));
    } else {
        err->kind = FP_ERR_IO;
        snprintf(err->message, sizeof err->message, "%s: %s", what, strerror(e));
    }
}

static int raw_socket(int family, fp_error *err)
{
    int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd < 0) {
        sock_error(err, errno, family == AF_INET ? "opening a raw IPv4 socket" : "opening a raw IPv6 socket");
        return -1;
    }
    int one = 1; /* probes to broadcast addresses (ping sweeps of a subnet) */
    (void)setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
    int sndbuf = 4 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    return fd;
}

fp_sender *fp_sender_open(const char *l2_iface, fp_error *err)
{
    fp_sender *s = calloc(1, sizeof *s);
    if (s == NULL) {
        sock_error(err, ENOMEM, "opening a sender");
        return NULL;
    }
    s->fd4 = s->fd6 = s->fdl2 = -1;
    if (l2_iface == NULL) {
        /* open IPv4 now so a missing privilege is reported before anything else happens */
        if ((s->fd4 = raw_socket(AF_INET, err)) < 0) goto fail;
        return s;
    }
    snprintf(s->iface, sizeof s->iface, "%s", l2_iface);
    s->ifindex = (int)if_nametoindex(l2_iface);
    if (s->ifindex == 0) {
        memset(err, 0, sizeof *err);
        err->kind = FP_ERR_NO_DEVICE;
        snprintf(err->message, sizeof err->message, "no such interface %s; fastpkt.get_if_list() lists them", l2_iface);
        goto fail;
    }
    s->fdl2 = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: send only */
    if (s->fdl2 < 0) {
        sock_error(err, errno, "opening a packet socket");
        goto fail;
    }
    struct sockaddr_ll sll = {0};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = s->ifindex;
    if (bind(s->fdl2, (struct sockaddr *)&sll, sizeof sll) < 0) {
        sock_error(err, errno, "binding a packet socket");
        goto fail;
    }
    int sndbuf = 4 << 20;
    (void)setsockopt(s->fdl2, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    return s;
fail:
    fp_sender_close(s);
    return NULL;
}

/* The kernel queue is full: wait a little for it to drain, then try again. */
static int queue_full(int e) { return e == ENOBUFS || e == EAGAIN || e == EWOULDBLOCK; }

int fp_sender_send(fp_sender *s, const uint8_t *data, uint32_t len, int *why, fp_error *err)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl = 0;
    int fd;
    *why = 0;
    if (s->fdl2 >= 0) {
        fd = s->fdl2;
    } else if (len >= 20 && data[0] >> 4 == 4) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        memcpy(&a->sin_addr, data + 16, 4);
        sl = sizeof *a;
        fd = s->fd4;
    } else if (len >= 40 && data[0] >> 4 == 6) {
        if (s->fd6 < 0 && (s->fd6 = raw_socket(AF_INET6, err)) < 0) return -1;
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        memcpy(&a->sin6_addr, data + 24, 16);
        sl = sizeof *a;
        fd = s->fd6;
    } else {
        *why = EINVAL; /* not an IP packet: nothing a raw IP socket can send */
        return 1;
    }
    for (int tries = 0;; tries++) {
        ssize_t n = sl ? sendto(fd, data, len, 0, (struct sockaddr *)&ss, sl) : send(fd, data, len, 0);
        if (n >= 0) return 0;
        int e = errno;
        if (e == EINTR) continue;
        if (queue_full(e) && tries < 1000) {
            poll(NULL, 0, 1);
            continue;
        }
        if (e == ENETUNREACH || e == EHOSTUNREACH || e == EADDRNOTAVAIL || e == ENETDOWN) {
            *why = e;
            return 1;
        }
        if (e == EPERM || e == EACCES) {
            sock_error(err, e, "sending a packet");
            /* a firewall rule (OUTPUT chain) refuses with EPERM as well */
            snprintf(err->message, sizeof err->message, "sending a packet: %s (a firewall rule dropped it, "
                     "or privileges are missing: " SETCAP_HINT ")", strerror(e));
        } else {
            char what[96];
            snprintf(what, sizeof what, "sending a %u-byte packet%s%s", len, s->fdl2 >= 0 ? " on " : "", s->iface);
            sock_error(err, e, what);
        }
        return -1;
    }
}

void fp_sender_close(fp_sender *s)
{
    if (s == NULL) return;
    if (s->fd4 >= 0) close(s->fd4);
    if (s->fd6 >= 0) close(s->fd6);
    if (s->fdl2 >= 0) close(s->fdl2);
    free(s);
}
