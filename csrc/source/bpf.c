/* BPF on files through libpcap (pcap-filter(7), pcap_compile(3PCAP)).
 * pcap_compile is not thread-safe in older libpcap (its lexer and parser have
 * global state), so every compile goes through one process-wide mutex: the
 * only global mutable state in the source layer. */
#define _DEFAULT_SOURCE 1 /* u_int and friends in pcap.h under -std=c11; strdup */

#include <pcap/pcap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf.h"

#define SET_MAX_LINKTYPES 64   /* distinct link types one set compiles for */

static pthread_mutex_t compile_lock = PTHREAD_MUTEX_INITIALIZER;

struct fp_bpf {
    struct bpf_program prog;
};

/* Files carry LINKTYPE_ values; pcap_open_dead wants the platform's DLT_.
 * They differ only for a few historical numbers (pcap-linktype(7)). */
static int linktype_to_dlt(uint32_t linktype)
{
    switch (linktype) {
    case 100: return DLT_ATM_RFC1483;
    case 101: return DLT_RAW;
    case 102: return DLT_SLIP_BSDOS;
    case 103: return DLT_PPP_BSDOS;
#ifdef DLT_ATM_CLIP
    case 106: return DLT_ATM_CLIP;
#endif
    default: return (int)linktype;
    }
}

fp_bpf *fp_bpf_compile(const char *expr, uint32_t linktype, uint32_t snaplen, char *errbuf,
                       size_t errlen)
{
    int snap = snaplen && snaplen <= 0x7FFFFFFF ? (int)snaplen : 262144;
    pcap_t *dead = pcap_open_dead(linktype_to_dlt(linktype), snap);
    if (!dead) {
        snprintf(errbuf, errlen, "out of memory opening a libpcap handle");
        return NULL;
    }
    fp_bpf *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(errbuf, errlen, "out of memory");
        pcap_close(dead);
        return NULL;
    }
    pthread_mutex_lock(&compile_lock);
    int rc = pcap_compile(dead, &f->prog, expr, 1, PCAP_NETMASK_UNKNOWN);
    if (rc < 0)
        snprintf(errbuf, errlen, "%s", pcap_geterr(dead));
    pthread_mutex_unlock(&compile_lock);
    pcap_close(dead);
    if (rc < 0) {
        free(f);
        return NULL;
    }
    return f;
}

int fp_bpf_match(fp_bpf *f, const fp_record *rec)
{
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.caplen = rec->caplen;
    h.len = rec->wirelen;
    return pcap_offline_filter(&f->prog, &h, rec->data) != 0;
}

void fp_bpf_free(fp_bpf *f)
{
    if (!f)
        return;
    pcap_freecode(&f->prog);
    free(f);
}

/* ---- per-link-type set ----------------------------------------------------- */

typedef struct {
    uint32_t linktype;
    fp_bpf *bpf;          /* NULL when the expression failed for this link type */
    char *error;
} set_entry;

struct fp_bpf_set {
    char *expr;
    uint32_t snaplen;
    set_entry entries[SET_MAX_LINKTYPES];
    unsigned n;
    uint32_t last;        /* index of the last entry used: records come in runs */
};

fp_bpf_set *fp_bpf_set_new(const char *expr, uint32_t snaplen)
{
    fp_bpf_set *set = calloc(1, sizeof *set);
    if (!set)
        return NULL;
    set->expr = strdup(expr);
    if (!set->expr) {
        free(set);
        return NULL;
    }
    set->snaplen = snaplen;
    return set;
}

static set_entry *set_lookup(fp_bpf_set *set, uint32_t linktype, char *errbuf, size_t errlen)
{
    if (set->n && set->entries[set->last].linktype == linktype)
        return &set->entries[set->last];
    for (unsigned i = 0; i < set->n; i++) {
        if (set->entries[i].linktype == linktype) {
            set->last = i;
            return &set->entries[i];
        }
    }
    if (set->n == SET_MAX_LINKTYPES) {
        snprintf(errbuf, errlen, "more than %d link types in one capture", SET_MAX_LINKTYPES);
        return NULL;
    }
    set_entry *e = &set->entries[set->n];
    char msg[PCAP_ERRBUF_SIZE] = "";
    e->linktype = linktype;
    e->bpf = fp_bpf_compile(set->expr, linktype, set->snaplen, msg, sizeof msg);
    if (!e->bpf) {
        e->error = strdup(msg);
        if (!e->error) {
            snprintf(errbuf, errlen, "out of memory");
            return NULL;
        }
    }
    set->last = set->n++;
    return e;
}

int fp_bpf_set_match(fp_bpf_set *set, const fp_record *rec, char *errbuf, size_t errlen)
{
    set_entry *e = set_lookup(set, rec->linktype, errbuf, errlen);
    if (!e)
        return -1;
    if (!e->bpf) {
        snprintf(errbuf, errlen, "filter '%s' on link type %u: %s", set->expr, rec->linktype,
                 e->error);
        return -1;
    }
    return fp_bpf_match(e->bpf, rec);
}

void fp_bpf_set_free(fp_bpf_set *set)
{
    if (!set)
        return;
    for (unsigned i = 0; i < set->n; i++) {
        fp_bpf_free(set->entries[i].bpf);
        free(set->entries[i].error);
    }
    free(set->expr);
    free(set);
}
