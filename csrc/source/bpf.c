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

static void put32(uint8_t *p, uint32_t v, int be)
{
    for (int i = 0; i < 4; i++)
        p[be ? i : 3 - i] = (uint8_t)(v >> (24 - 8 * i));
}

/* A "savefile" handle rather than pcap_open_dead: libpcap then maps the
 * LINKTYPE_ to its DLT_ itself (101 -> DLT_RAW...), and for DLT_NULL it
 * matches the address-family values of every OS in the file's byte order (a
 * dead handle assumes this host's AF_INET6, so "ip6" would miss a macOS
 * loopback capture). The handle reads a 24-byte pcap header from `hdr`,
 * which must outlive it. */
static pcap_t *open_header_only(uint8_t hdr[24], uint32_t linktype, uint32_t snaplen,
                                int byte_swapped, char *errbuf, size_t errlen)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    int be = !byte_swapped;
#else
    int be = byte_swapped != 0;
#endif
    put32(hdr, 0xA1B2C3D4u, be);
    put32(hdr + 4, be ? 2u << 16 | 4u : 4u << 16 | 2u, be);   /* version 2.4 */
    put32(hdr + 8, 0, be);
    put32(hdr + 12, 0, be);
    put32(hdr + 16, snaplen ? snaplen : 262144, be);
    put32(hdr + 20, linktype, be);
    FILE *f = fmemopen(hdr, 24, "rb");
    if (!f) {
        snprintf(errbuf, errlen, "cannot open an in-memory libpcap handle");
        return NULL;
    }
    char pe[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_fopen_offline(f, pe);   /* owns f from here on success */
    if (!p) {
        fclose(f);
        snprintf(errbuf, errlen, "%s", pe);
    }
    return p;
}

fp_bpf *fp_bpf_compile_ex(const char *expr, uint32_t linktype, uint32_t snaplen,
                          int byte_swapped, char *errbuf, size_t errlen)
{
    uint8_t hdr[24];
    pcap_t *handle = open_header_only(hdr, linktype, snaplen, byte_swapped, errbuf, errlen);
    if (!handle)
        return NULL;
    fp_bpf *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(errbuf, errlen, "out of memory");
        pcap_close(handle);
        return NULL;
    }
    pthread_mutex_lock(&compile_lock);
    int rc = pcap_compile(handle, &f->prog, expr, 1, PCAP_NETMASK_UNKNOWN);
    if (rc < 0)
        snprintf(errbuf, errlen, "%s", pcap_geterr(handle));
    pthread_mutex_unlock(&compile_lock);
    pcap_close(handle);
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
    int byte_swapped;
    set_entry entries[SET_MAX_LINKTYPES];
    unsigned n;
    uint32_t last;        /* index of the last entry used: records come in runs */
};

fp_bpf_set *fp_bpf_set_new_ex(const char *expr, uint32_t snaplen, int byte_swapped)
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
    set->byte_swapped = byte_swapped;
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
    e->bpf = fp_bpf_compile_ex(set->expr, linktype, set->snaplen, set->byte_swapped, msg,
                               sizeof msg);
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
