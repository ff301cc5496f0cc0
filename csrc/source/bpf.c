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

/* A "savefile" handle rather than pcap_open_dead: libpcap then maps the
 * LINKTYPE_ to its DLT_ itself, and for DLT_NULL/LOOP it matches the address
 * family values of every OS (a dead handle assumes this host's AF_INET6, so
 * "ip6" would miss macOS captures) in the file's byte order. The handle is
 * opened on a 24-byte in-memory pcap header. */
static pcap_t *open_header_only(uint32_t linktype, uint32_t snaplen, int byte_swapped,
                                char *errbuf, size_t errlen)
{
    static uint8_t unused;
    uint32_t hdr[6] = {0xA1B2C3D4u, 2u | 4u << 16, 0, 0, snaplen ? snaplen : 262144, linktype};
    if (byte_swapped) {
        hdr[0] = __builtin_bswap32(hdr[0]);
        hdr[1] = 2u << 24 | 4u << 8;
        hdr[4] = __builtin_bswap32(hdr[4]);
        hdr[5] = __builtin_bswap32(hdr[5]);
    }
    /* The header in host order needs 16-bit fields laid out as written: */
    uint16_t ver[2] = {2, 4};
    if (!byte_swapped)
        memcpy(&hdr[1], ver, sizeof ver);
    uint8_t *copy = malloc(sizeof hdr);
    FILE *f = copy ? fmemopen(copy, sizeof hdr, "rb") : NULL;
    if (!f) {
        free(copy);
        snprintf(errbuf, errlen, "out of memory opening a libpcap handle");
        return NULL;
    }
    memcpy(copy, hdr, sizeof hdr);
    char pe[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_fopen_offline(f, pe);  /* reads the header now */
    (void)unused;
    if (!p) {
        fclose(f);
        snprintf(errbuf, errlen, "%s", pe);
    }
    free(copy);   /* fmemopen's buffer is only read during pcap_fopen_offline */
    return p;
}

fp_bpf *fp_bpf_compile_ex(const char *expr, uint32_t linktype, uint32_t snaplen,
                          int byte_swapped, char *errbuf, size_t errlen)
{
    pcap_t *handle = open_header_only(linktype, snaplen, byte_swapped, errbuf, errlen);
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

fp_bpf *fp_bpf_compile(const char *expr, uint32_t linktype, uint32_t snaplen, char *errbuf,
                       size_t errlen)
{
    return fp_bpf_compile_ex(expr, linktype, snaplen, 0, errbuf, errlen);
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
