/* Live capture (see live.h). libpcap does the capture and the kernel BPF; this file only
 * maps its lifecycle and errors onto fp_source. */
#include "live.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source_impl.h"

/* The handle is read non-blocking and waited on with poll() here, with a self-pipe to be
 * woken: libpcap's own read timeout does not return control on Linux in immediate mode (a
 * read blocks until a packet comes), and a quiet capture must come back to its caller. */
struct fp_live {
    pcap_t *p;
    int fd;              /* pcap_get_selectable_fd */
    int wake[2];         /* self-pipe written by fp_source_live_break */
    int timeout_ms;
    int nanosecond;
    volatile int broken; /* fp_source_live_break was called */
};

static void live_error(fp_error *err, fp_errkind kind, const char *fmt, const char *a, const char *b)
{
    memset(err, 0, sizeof *err);
    err->kind = kind;
    snprintf(err->message, sizeof err->message, fmt, a, b);
}

/* Translate pcap_activate's failure into what the user should do. */
static void activate_error(fp_error *err, int rc, const char *dev, pcap_t *p)
{
    const char *why = pcap_geterr(p);
    if (!why || !*why) why = pcap_statustostr(rc);
    switch (rc) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
        live_error(err, FP_ERR_NO_DEVICE, "no such interface %s (%s); fastpkt.interfaces() lists them", dev, why);
        return;
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
        live_error(err, FP_ERR_PERMISSION,
                   "capturing on %s needs privileges (%s): run as root, or grant them to the Python "
                   "binary with: setcap cap_net_raw,cap_net_admin=eip \"$(readlink -f $(which python3))\"",
                   dev, why);
        return;
    default:
        live_error(err, FP_ERR_IO, "cannot capture on %s: %s", dev, why);
    }
}

fp_source *fp_source_open_live(const fp_live_config *cfg, fp_error *err)
{
    char eb[PCAP_ERRBUF_SIZE] = "";
    const char *dev = cfg->iface && *cfg->iface ? cfg->iface : "any";
    pcap_t *p = pcap_create(dev, eb);
    if (p == NULL) {
        live_error(err, FP_ERR_IO, "cannot capture on %s: %s", dev, eb);
        return NULL;
    }
    pcap_set_snaplen(p, cfg->snaplen > 0 ? cfg->snaplen : 262144);
    pcap_set_promisc(p, cfg->promisc);
    pcap_set_timeout(p, cfg->timeout_ms > 0 ? cfg->timeout_ms : 100);
    pcap_set_immediate_mode(p, cfg->immediate);
    if (cfg->buffer_size > 0) pcap_set_buffer_size(p, cfg->buffer_size);
    if (cfg->nanosecond) pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO); /* best effort */
    int rc = pcap_activate(p);
    if (rc < 0) {
        activate_error(err, rc, dev, p);
        pcap_close(p);
        return NULL;
    }
    if (cfg->inbound_only && pcap_setdirection(p, PCAP_D_IN) < 0) {
        live_error(err, FP_ERR_IO, "cannot capture only inbound packets on %s: %s", dev, pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    if (cfg->filter && *cfg->filter) {
        struct bpf_program prog;
        if (pcap_compile(p, &prog, cfg->filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
            live_error(err, FP_ERR_FILTER, "bad BPF filter '%s': %s", cfg->filter, pcap_geterr(p));
            pcap_close(p);
            return NULL;
        }
        int set = pcap_setfilter(p, &prog);
        pcap_freecode(&prog);
        if (set < 0) {
            live_error(err, FP_ERR_FILTER, "cannot set BPF filter '%s': %s", cfg->filter, pcap_geterr(p));
            pcap_close(p);
            return NULL;
        }
    }
    fp_source *s = fp_src_new(FP_ON_ERROR_RAISE);
    struct fp_live *l = calloc(1, sizeof *l);
    if (s == NULL || l == NULL) {
        free(s);
        free(l);
        pcap_close(p);
        live_error(err, FP_ERR_IO, "out of memory opening %s%s", dev, "");
        return NULL;
    }
    l->p = p;
    l->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 100;
    l->nanosecond = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
    l->fd = pcap_get_selectable_fd(p);
    if (l->fd < 0 || pcap_setnonblock(p, 1, eb) < 0 || pipe2(l->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        live_error(err, FP_ERR_IO, "cannot capture on %s: %s", dev, l->fd < 0 ? "no selectable descriptor" : *eb ? eb : strerror(errno));
        free(l);
        free(s);
        pcap_close(p);
        return NULL;
    }
    s->live = l;
    s->format = FP_FORMAT_LIVE;
    s->linktype = (uint32_t)pcap_datalink(p);
    s->snaplen = (uint32_t)pcap_snapshot(p);
    s->nanosecond = l->nanosecond;
    return s;
}

int fp_live_next(fp_source *s, fp_record *rec, fp_error *err)
{
    struct fp_live *l = s->live;
    if (l->broken || s->finished) return 0;
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(l->p, &h, &data);
    if (rc == 0) { /* nothing buffered: wait for packets, a break, or the timeout */
        struct pollfd fds[2] = {{l->fd, POLLIN, 0}, {l->wake[0], POLLIN, 0}};
        int n = poll(fds, 2, l->timeout_ms);
        if (l->broken) {
            s->finished = 1;
            return 0;
        }
        if (n <= 0) return FP_SOURCE_IDLE; /* timeout, or a signal for the caller to handle */
        rc = pcap_next_ex(l->p, &h, &data);
    }
    if (rc == 1) {
        rec->ts_ns = (int64_t)h->ts.tv_sec * 1000000000LL + (int64_t)h->ts.tv_usec * (l->nanosecond ? 1 : 1000);
        rec->caplen = h->caplen;
        rec->wirelen = h->len;
        rec->linktype = s->linktype;
        rec->interface_id = 0;
        rec->fcs_len = 0;
        rec->has_ts = 1;
        rec->offset = 0;
        rec->data = data;
        s->packets++;
        return 1;
    }
    if (rc == 0) return l->broken ? 0 : FP_SOURCE_IDLE;
    if (rc == PCAP_ERROR_BREAK || l->broken) {
        s->finished = 1;
        return 0;
    }
    s->finished = 1;
    live_error(err, FP_ERR_IO, "capture failed: %s%s", pcap_geterr(l->p), "");
    s->last_error = *err;
    return -1;
}

void fp_source_live_break(fp_source *s)
{
    if (s && s->live) {
        s->live->broken = 1;
        ssize_t w = write(s->live->wake[1], "x", 1); /* async-signal-safe wake of poll() */
        (void)w;
    }
}

int fp_source_live_stats(fp_source *s, uint64_t *received, uint64_t *dropped, uint64_t *if_dropped)
{
    struct pcap_stat st;
    if (s == NULL || s->live == NULL || pcap_stats(s->live->p, &st) < 0) return -1;
    *received = st.ps_recv;
    *dropped = st.ps_drop;
    *if_dropped = st.ps_ifdrop;
    return 0;
}

int fp_source_is_live(const fp_source *s) { return s && s->live; }

void fp_source_live_set_wait(fp_source *s, int wait_ms)
{
    if (s && s->live) s->live->timeout_ms = wait_ms < 0 ? 0 : wait_ms;
}

void fp_live_close(fp_source *s)
{
    close(s->live->wake[0]);
    close(s->live->wake[1]);
    pcap_close(s->live->p);
    free(s->live);
    s->live = NULL;
}
