/* fp_source core: input (mmap'd file, caller memory, or a stream read through
 * an fp_input), format detection by magic number (compressed streams are
 * wrapped in a decoder first), the error policy, and accessors. The formats
 * themselves live in pcap.c and pcapng.c; inputs in input.c and decompress.c. */
#define _DEFAULT_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_registry.h"
#include "mapguard.h"
#include "source_impl.h"

#define STREAM_CHUNK (1u << 20)        /* initial stream buffer and minimum read size */

#define MAGIC_PCAPNG 0x0A0D0D0Au

void fp_src_error(fp_error *err, fp_errkind kind, uint64_t offset, uint64_t index,
                  const char *fmt, ...)
{
    va_list ap;
    err->kind = kind;
    err->sys_errno = 0;
    err->offset = offset;
    err->packet_index = index;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static void io_error(fp_error *err, int e, const char *what, const char *path)
{
    /* glibc's strerror returns its static table's text for real errno values */
    fp_src_error(err, FP_ERR_IO, 0, 0, "%s '%s': %s", what, path, strerror(e));
    err->sys_errno = e;
}

/* ---- input ---------------------------------------------------------------- */

/* Make room for `need` bytes in the stream buffer, dropping consumed bytes first. */
static int stream_reserve(fp_source *s, size_t need, fp_error *err)
{
    size_t drop = (size_t)(s->pos - s->buf_base);
    if (drop > 0) {
        memmove(s->buf, s->buf + drop, s->buf_len - drop);
        s->buf_len -= drop;
        s->buf_base += drop;
    }
    if (need <= s->buf_cap)
        return 0;
    size_t cap = s->buf_cap ? s->buf_cap : STREAM_CHUNK;
    while (cap < need)
        cap *= 2;
    uint8_t *nb = realloc(s->buf, cap);
    if (!nb) {
        fp_src_error(err, FP_ERR_IO, s->pos, fp_src_index(s),
                     "out of memory growing the stream buffer to %zu bytes", cap);
        err->sys_errno = ENOMEM;
        return -1;
    }
    s->buf = nb;
    s->buf_cap = cap;
    return 0;
}

/* Read until the buffer holds `end` (relative to buf_base) bytes or input ends. */
static int stream_fill(fp_source *s, size_t end, fp_error *err)
{
    while (s->buf_len < end && !s->eof) {
        int64_t n = s->in.read(s->in.ctx, s->buf + s->buf_len, s->buf_cap - s->buf_len, err);
        if (n < 0) {            /* blame the record being read (decompressed offsets) */
            err->offset = s->pos;
            err->packet_index = fp_src_index(s);
            return -1;
        }
        if (n == 0)
            s->eof = 1;
        s->buf_len += (size_t)n;
    }
    return 0;
}

int64_t fp_src_peek_stream(fp_source *s, uint64_t off, size_t want, const uint8_t **p, fp_error *err)
{
    /* Bytes before s->pos are consumed and may be dropped; off is never below it. */
    if (off < s->buf_base || off + want > s->buf_base + s->buf_len) {
        size_t end = (size_t)(off - s->pos) + want;
        if (stream_reserve(s, end < STREAM_CHUNK ? STREAM_CHUNK : end, err) < 0)
            return -1;
        if (stream_fill(s, (size_t)(off - s->buf_base) + want, err) < 0)
            return -1;
    }
    size_t rel = (size_t)(off - s->buf_base);
    size_t have = s->buf_len > rel ? s->buf_len - rel : 0;
    *p = s->buf + (rel < s->buf_len ? rel : s->buf_len);
    return (int64_t)(have < want ? have : want);
}

/* One mapping of a file read by several sources (fp_source_share_mapping). */
typedef struct fp_shared_map {
    pthread_mutex_t lock;
    const uint8_t *mem;
    uint64_t len;
    int guard;
    uint64_t released;          /* [0, released) given back */
    fp_source *members;         /* the sources reading it, linked through share_next */
} fp_shared_map;

#define SHARE_STEP (4u << 20)   /* a sharing source tells its position this often */
#define SHARE_CHUNK (16u << 20) /* and the pages all are past go back in pieces of this */

static void give_back_span(const fp_source *s, uint64_t from, uint64_t to)
{
    if (to > from)
        madvise((void *)(uintptr_t)(s->mem + from), (size_t)(to - from), MADV_DONTNEED);
}

/* [from, to) back to the kernel (from page-aligned), around the kept range. */
static void give_back(const fp_source *s, uint64_t from, uint64_t to)
{
    if (s->keep_to <= s->keep_from || to <= s->keep_from || from >= s->keep_to) {
        give_back_span(s, from, to);
        return;
    }
    give_back_span(s, from, s->keep_from);
    give_back_span(s, s->keep_to, to);
}

uint64_t fp_source_keep(fp_source *s, uint64_t from, uint64_t to)
{
    if (!s->mapped || s->share || to > s->mem_len || from >= to) {
        s->keep_from = s->keep_to = 0;
        return 0;
    }
    s->keep_from = from & ~s->page_mask;
    s->keep_to = to == s->mem_len ? to : (to + s->page_mask) & ~s->page_mask;
    return s->keep_to - s->keep_from;
}

void fp_source_unkeep(fp_source *s, uint64_t from, uint64_t to)
{
    if (s->keep_from != (from & ~s->page_mask) || s->keep_to > to + s->page_mask || s->keep_to < to) return;
    from = s->keep_from;
    to = s->keep_to;
    s->keep_from = s->keep_to = 0;
    give_back_span(s, from, to);
}

/* A sharing source's turn (every SHARE_STEP read, and at its end): it gives back what it
 * read below the shared line (pages it faulted in again after the line passed them), then
 * moves the line to the slowest source, or FP_SHARE_WINDOW behind the fastest. */
static void release_shared(fp_source *s, uint64_t upto, int at_end)
{
    fp_shared_map *m = s->share;
    pthread_mutex_lock(&m->lock);
    uint64_t own_from = s->share_pos & ~s->page_mask, own_to = upto < m->released ? upto : m->released;
    give_back(s, own_from, own_to);
    s->share_pos = at_end ? UINT64_MAX : s->pos;
    uint64_t slowest = UINT64_MAX, fastest = 0;
    for (const fp_source *o = m->members; o; o = o->share_next) {
        if (o->share_pos < slowest)
            slowest = o->share_pos;
        if (o->share_pos != UINT64_MAX && o->share_pos > fastest)
            fastest = o->share_pos;
    }
    uint64_t line = slowest == UINT64_MAX ? m->len : slowest & ~s->page_mask;
    if (fastest > FP_SHARE_WINDOW && fastest - FP_SHARE_WINDOW > line)
        line = (fastest - FP_SHARE_WINDOW) & ~s->page_mask;
    if (line > m->released && (line - m->released >= SHARE_CHUNK || line == m->len)) {
        give_back(s, m->released, line);
        m->released = line;
    }
    pthread_mutex_unlock(&m->lock);
    s->release_at = s->pos + SHARE_STEP;
}

/* Packets point into the map only until the next call: everything before
 * s->pos can go, so iterating a huge file keeps resident memory flat. */
static inline void release_consumed(fp_source *s)
{
    if (s->pos < s->release_at) /* first: one test per record (UINT64_MAX when not mapped) */
        return;
    if (!s->mapped)
        return;
    uint64_t upto = s->pos & ~s->page_mask;
    if (s->share) {
        release_shared(s, upto, 0);
        return;
    }
    give_back(s, s->advised, upto);
    s->advised = upto;
    s->release_at = upto + FP_ADVISE_EVERY;
}

/* At the end of the input (or of its range) the pages read since the last release go too:
 * a reader waiting at its end (one file of many merged by time, open until all end) would
 * otherwise hold up to FP_ADVISE_EVERY of them, 32 MiB a file. */
static void release_read(fp_source *s)
{
    if (!s->mapped)
        return;
    uint64_t upto = (s->pos + s->page_mask) & ~s->page_mask;
    if (upto > s->mem_len)
        upto = s->mem_len;
    if (s->share) {
        release_shared(s, upto, 1);
        return;
    }
    if (upto <= s->advised)
        return;
    give_back(s, s->advised, upto);
    s->advised = upto;
}

int fp_source_share_mapping(fp_source *s, fp_source *with)
{
    if (s->share && s->share == with->share)
        return 1;
    struct stat a, b;
    if (s == with || s->share || !s->mapped || !with->mapped || s->packets || s->skipped ||
        s->finished || s->mem_len != with->mem_len || fstat(s->fd, &a) < 0 ||
        fstat(with->fd, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
        return 0;
    fp_shared_map *m = with->share;
    if (!m) {
        if (!(m = calloc(1, sizeof *m)) || pthread_mutex_init(&m->lock, NULL) != 0) {
            free(m);
            return 0;
        }
        m->mem = with->mem;
        m->len = with->mem_len;
        m->guard = with->guard;
        m->released = with->advised;
        m->members = with;
        with->share = m;
        with->share_pos = with->pos;
        with->release_at = with->pos + SHARE_STEP;
    }
    pthread_mutex_lock(&m->lock);
    fp_mapguard_remove(s->guard);
    munmap((void *)(uintptr_t)s->mem, (size_t)s->mem_len);
    s->mem = m->mem;
    s->guard = m->guard;
    s->guard_lost = fp_mapguard_lost_flag(s->guard);
    s->advised = 0;
    s->share = m;
    s->share_pos = s->pos;
    s->share_next = m->members;
    m->members = s;
    s->release_at = s->pos + SHARE_STEP;
    pthread_mutex_unlock(&m->lock);
    return 1;
}

/* A source leaving its shared mapping: the last one unmaps it. */
static void leave_shared(fp_source *s)
{
    fp_shared_map *m = s->share;
    pthread_mutex_lock(&m->lock);
    fp_source **at = &m->members;
    while (*at != s)
        at = &(*at)->share_next;
    *at = s->share_next;
    int last = m->members == NULL;
    pthread_mutex_unlock(&m->lock);
    if (!last)
        return;
    fp_mapguard_remove(m->guard);
    munmap((void *)(uintptr_t)m->mem, (size_t)m->len);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

int fp_src_add_interface(fp_source *s, const fp_interface *ifc, fp_error *err, uint64_t offset)
{
    if (s->n_ifs >= FP_MAX_INTERFACES) {
        fp_src_error(err, FP_ERR_FORMAT, offset, fp_src_index(s),
                     "more than %u interfaces: the file is corrupt or hostile", FP_MAX_INTERFACES);
        return -1;
    }
    if (s->n_ifs == s->cap_ifs) {
        uint32_t cap = s->cap_ifs ? s->cap_ifs * 2 : 8;
        fp_interface *ni = realloc(s->ifs, cap * sizeof *ni);
        if (!ni) {
            fp_src_error(err, FP_ERR_IO, offset, fp_src_index(s), "out of memory");
            err->sys_errno = ENOMEM;
            return -1;
        }
        s->ifs = ni;
        s->cap_ifs = cap;
    }
    s->ifs[s->n_ifs++] = *ifc;
    return 0;
}

/* ---- open ----------------------------------------------------------------- */

fp_source *fp_src_new(fp_on_error policy)
{
    fp_source *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->policy = policy;
    s->fd = -1;
    s->linktype = 0xFFFFFFFFu;
    s->range_end = UINT64_MAX;
    s->release_at = UINT64_MAX; /* a mapping of ours sets its own */
    return s;
}

/* Put a decoder between the input and the stream buffer; the bytes already
 * buffered (or the whole memory buffer) are its first input. */
static int start_decoder(fp_source *s, fp_compression c, fp_error *err)
{
    const uint8_t *prefix = s->buf;
    size_t prefix_len = s->buf_len;
    if (s->mem) {
        if (fp_input_memory(&s->in, s->mem, (size_t)s->mem_len, err) < 0)
            return -1;
        s->mem = NULL;
        s->mem_len = 0;
        prefix_len = 0;
    }
    if (fp_decoder_wrap(&s->in, c, prefix, prefix_len, err) < 0)
        return -1;
    s->buf_len = 0;
    s->eof = 0;
    s->compression = c;
    return 0;
}

/* Detect the format from the first bytes and read the file header. */
static fp_source *source_start(fp_source *s, fp_error *err)
{
    const uint8_t *p;
    int64_t n = fp_src_peek(s, 0, 6, &p, err);
    if (n < 0)
        goto fail;
    fp_compression c = fp_compression_detect(p, (size_t)n);
    if (c != FP_COMPRESSION_NONE && !s->mapped) {   /* files: see fp_source_open_path */
        if (start_decoder(s, c, err) < 0 || (n = fp_src_peek(s, 0, 4, &p, err)) < 0)
            goto fail;
        if (n == 0) {
            fp_src_error(err, FP_ERR_FORMAT, 0, 0,
                         "the %s data decompresses to 0 bytes, not even a pcap or pcapng header",
                         fp_compression_name(c));
            goto fail;
        }
    }
    if (n == 0) {
        fp_src_error(err, FP_ERR_FORMAT, 0, 0,
                     "empty file: 0 bytes, not even a pcap or pcapng header");
        goto fail;
    }
    if (n < 4) {
        fp_src_error(err, FP_ERR_TRUNCATED, 0, 0,
                     "file is only %d bytes long: too short for a pcap or pcapng header", (int)n);
        goto fail;
    }
    uint32_t magic = fp_rd32(p, 1);
    int rc;
    switch (magic) {
    case 0xA1B2C3D4u: case 0xD4C3B2A1u: case 0xA1B23C4Du: case 0x4D3CB2A1u:
        s->format = FP_FORMAT_PCAP;
        rc = fp_pcap_open(s, err);
        break;
    case MAGIC_PCAPNG:
        s->format = FP_FORMAT_PCAPNG;
        rc = fp_pcapng_open(s, err);
        break;
    default:
        fp_src_error(err, FP_ERR_FORMAT, 0, 0,
                     "not a pcap or pcapng %s: unknown magic number %02x %02x %02x %02x "
                     "(the file extension does not matter, the first 4 bytes do)",
                     s->compression ? "capture inside the compressed data" : "file",
                     p[0], p[1], p[2], p[3]);
        goto fail;
    }
    if (rc < 0)
        goto fail;
    return s;
fail:
    fp_source_close(s);
    return NULL;
}


fp_source *fp_source_open_memory(const uint8_t *buf, size_t len, fp_on_error policy,
                                 fp_error *err)
{
    fp_source *s = fp_src_new(policy);
    if (!s) {
        fp_src_error(err, FP_ERR_IO, 0, 0, "out of memory");
        err->sys_errno = ENOMEM;
        return NULL;
    }
    static const uint8_t empty[1];
    s->mem = buf ? buf : empty;
    s->mem_len = buf ? len : 0;
    return source_start(s, err);
}

fp_source *fp_source_open_input(fp_input in, fp_on_error policy, fp_error *err)
{
    fp_source *s = fp_src_new(policy);
    if (!s) {
        fp_input_close(&in);
        fp_src_error(err, FP_ERR_IO, 0, 0, "out of memory");
        err->sys_errno = ENOMEM;
        return NULL;
    }
    s->in = in;
    return source_start(s, err);
}

/* Mappings are known to the map guard; a regular file read as a stream (a
 * compressed file, a file object) is registered here, so that our writers do
 * not truncate its unread bytes. */
static void register_file(fp_source *s, const struct stat *st)
{
    if (s->registered || !S_ISREG(st->st_mode) || fp_file_registry_add(st->st_dev, st->st_ino) < 0)
        return;
    s->registered = 1;
    s->file_dev = st->st_dev;
    s->file_ino = st->st_ino;
}

void fp_source_note_file(fp_source *s, int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0)
        register_file(s, &st);
}

fp_source *fp_source_open_fd(int fd, fp_on_error policy, fp_error *err)
{
    struct stat st;
    int known = fstat(fd, &st) == 0;
    fp_input in;
    if (fp_input_fd(&in, fd, err) < 0)
        return NULL;
    fp_source *s = fp_source_open_input(in, policy, err);
    if (s && known)
        register_file(s, &st);
    return s;
}

/* Compressed files are read as streams through their decoder: a mapping would
 * only hold the compressed bytes. */
static int compressed_file(int fd)
{
    uint8_t magic[6];
    ssize_t n = pread(fd, magic, sizeof magic, 0);
    return n > 0 && fp_compression_detect(magic, (size_t)n) != FP_COMPRESSION_NONE;
}

fp_source *fp_source_open_path(const char *path, fp_on_error policy, fp_error *err)
{
    if (strcmp(path, "-") == 0) {
        int fd = dup(STDIN_FILENO);   /* closing the source must not close stdin */
        if (fd < 0) {
            io_error(err, errno, "cannot open", "standard input");
            return NULL;
        }
        return fp_source_open_fd(fd, policy, err);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        io_error(err, errno, "cannot open", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        io_error(err, errno, "cannot stat", path);
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || compressed_file(fd))   /* FIFO, device, .gz ...: a stream */
        return fp_source_open_fd(fd, policy, err);
    if (st.st_size == 0) {
        fp_src_error(err, FP_ERR_FORMAT, 0, 0,
                     "empty file '%s': 0 bytes, not even a pcap or pcapng header", path);
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)      /* some filesystems cannot map: fall back to reading */
        return fp_source_open_fd(fd, policy, err);
    int guard = fp_mapguard_add(map, (size_t)st.st_size, st.st_dev, st.st_ino);
    if (guard < 0) {            /* unguarded, a truncation would kill us: read instead */
        munmap(map, (size_t)st.st_size);
        return fp_source_open_fd(fd, policy, err);
    }
    madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    fp_source *s = fp_src_new(policy);
    if (!s) {
        fp_mapguard_remove(guard);
        munmap(map, (size_t)st.st_size);
        close(fd);
        fp_src_error(err, FP_ERR_IO, 0, 0, "out of memory");
        err->sys_errno = ENOMEM;
        return NULL;
    }
    s->fd = fd;
    s->mem = map;
    s->mem_len = (uint64_t)st.st_size;
    s->mapped = 1;
    s->guard = guard;
    s->guard_lost = fp_mapguard_lost_flag(guard);
    s->page_mask = (uint64_t)sysconf(_SC_PAGESIZE) - 1;
    s->release_at = FP_ADVISE_EVERY;
    return source_start(s, err);
}

void fp_source_close(fp_source *s)
{
    if (!s)
        return;
    if (s->live)
        fp_live_close(s);
    if (s->share) {
        leave_shared(s);
    } else if (s->mapped) {
        fp_mapguard_remove(s->guard);
        munmap((void *)(uintptr_t)s->mem, (size_t)s->mem_len);
    }
    if (s->fd >= 0)
        close(s->fd);
    fp_input_close(&s->in);
    if (s->registered)
        fp_file_registry_remove(s->file_dev, s->file_ino);
    free(s->ng_prefix);
    free(s->buf);
    free(s->ifs);
    free(s);
}

/* ---- iteration ------------------------------------------------------------ */

/* Whether the file shrank under the record just parsed (or, without one, under the
 * mapping). Touching the first byte past the record's page faults when the file lost
 * that page (mapguard turns the SIGBUS into a mark); only the mapping's last page,
 * whose bytes past the new end read as zeros without a fault, after a fault, and on
 * the error/end path need the file system's word. */
static inline int mapping_lost(const fp_source *s, int have_record)
{
    uint64_t end = have_record ? s->pos : s->mem_len;
    uint64_t next_page = (end + s->page_mask) & ~s->page_mask;
    if (have_record && next_page < s->mem_len) {
        volatile const uint8_t *p = s->mem + next_page;
        (void)*p;
        if (!atomic_load(s->guard_lost))
            return 0;
    }
    struct stat st;
    return fstat(s->fd, &st) == 0 && (uint64_t)st.st_size < end;
}

void fp_source_release_pages(const fp_source *s, const uint8_t *from, const uint8_t *to)
{
    if (!s->mapped || from < s->mem || to > s->mem + s->mem_len || from >= to) return;
    uint64_t lo = (uint64_t)(from - s->mem) & ~s->page_mask;
    give_back(s, lo, (uint64_t)(to - s->mem));
}

const uint8_t *fp_source_mapping(const fp_source *s, size_t *len)
{
    *len = s->mapped ? (size_t)s->mem_len : 0;
    return s->mapped ? s->mem : NULL;
}

void fp_source_map_pages(const fp_source *s, const uint8_t *from, const uint8_t *to)
{
#ifdef MADV_POPULATE_READ
    if (!s->mapped || from < s->mem || to > s->mem + s->mem_len || from >= to) return;
    uint64_t lo = (uint64_t)(from - s->mem) & ~s->page_mask, hi = (uint64_t)(to - s->mem);
    if (lo >= s->keep_from && hi <= s->keep_to) return; /* kept: mapped already (walking its page
                                                           tables again costs ~4 % of an export) */
    madvise((void *)(uintptr_t)(s->mem + lo), (size_t)(hi - lo), MADV_POPULATE_READ);
#else
    (void)s, (void)from, (void)to;
#endif
}

int fp_source_lost(const fp_source *s)
{
    return s->mapped && (fp_mapguard_lost(s->guard) || mapping_lost(s, 0));
}

static int resync(fp_source *s)
{
    if (s->skip_to > s->pos) {      /* the bad record's extent is known: step over it */
        s->pos = s->skip_to;
        return 1;
    }
    return s->format == FP_FORMAT_PCAP ? fp_pcap_resync(s) : fp_pcapng_resync(s);
}

/* The formats advise on_error='stop' for a damaged record; under it that advice is done
 * already: say instead what the reader got. */
static void stopped_advice(fp_error *err, uint64_t delivered)
{
    char *advice = strstr(err->message, "; pass on_error=");
    if (advice == NULL)
        return;
    snprintf(advice, sizeof err->message - (size_t)(advice - err->message),
             "; reading stopped there (on_error='stop'): the %llu packets before it were delivered",
             (unsigned long long)delivered);
}

int fp_source_next(fp_source *s, fp_record *rec, fp_error *err)
{
    fp_error scratch;
    if (!err)
        err = &scratch;
    rec->opts_len = 0;   /* only pcapng packet blocks carry options */
    if (s->finished) {
        if (s->policy == FP_ON_ERROR_RAISE && s->last_error.kind != FP_OK) {
            *err = s->last_error;
            return -1;
        }
        return 0;
    }
    if (s->live)
        return fp_live_next(s, rec, err);
    release_consumed(s);
    for (;;) {
        s->skip_to = 0;
        int rc = s->format == FP_FORMAT_PCAP ? fp_pcap_next(s, rec, err)
                                             : fp_pcapng_next(s, rec, err);
        if (s->mapped && mapping_lost(s, rc > 0)) {
            fp_src_error(err, FP_ERR_TRUNCATED, rc > 0 ? rec->offset : s->pos, fp_src_index(s),
                         "the file was truncated by another process while being read: it no "
                         "longer holds the record at offset %llu (%llu packets were delivered)",
                         (unsigned long long)(rc > 0 ? rec->offset : s->pos),
                         (unsigned long long)s->packets);
            s->finished = 1;
            s->last_error = *err;
            return s->policy == FP_ON_ERROR_RAISE ? -1 : 0;
        }
        if (rc > 0) {
            s->packets++;
            if (rec->has_ts) {
                s->prev_ts_ns = rec->ts_ns;
                s->have_prev_ts = 1;
            }
            return 1;
        }
        if (rc == 0) {
            s->finished = 1;
            release_read(s);
            return 0;
        }
        if (s->policy == FP_ON_ERROR_SKIP && err->kind != FP_ERR_IO && resync(s)) {
            s->skipped++;
            continue;
        }
        s->finished = 1;
        if (s->policy == FP_ON_ERROR_STOP)
            stopped_advice(err, s->packets);
        s->last_error = *err;
        if (s->policy == FP_ON_ERROR_RAISE || err->kind == FP_ERR_IO)
            return -1;
        return 0;
    }
}

int fp_source_next_quick(fp_source *s, fp_record *rec)
{
    if (s->format != FP_FORMAT_PCAP || s->finished || s->mem == NULL)
        return 0;
    release_consumed(s);
    if (!fp_pcap_take(s, rec))
        return 0;
    if (s->mapped && mapping_lost(s, 1)) {
        s->pos = rec->offset; /* fp_source_next reports it */
        return 0;
    }
    rec->opts_len = 0;
    s->packets++;
    s->prev_ts_ns = rec->ts_ns;
    s->have_prev_ts = 1;
    return 1;
}

/* ---- accessors ------------------------------------------------------------ */

fp_format fp_source_format(const fp_source *s) { return s->format; }

uint32_t fp_source_linktype(const fp_source *s)
{
    if (s->format == FP_FORMAT_PCAPNG)
        return s->n_ifs ? s->ifs[0].linktype : 0xFFFFFFFFu;
    return s->linktype;
}

uint32_t fp_source_snaplen(const fp_source *s)
{
    if (s->format == FP_FORMAT_PCAPNG)
        return s->n_ifs ? s->ifs[0].snaplen : 0;
    return s->snaplen;
}

int fp_source_nanosecond(const fp_source *s) { return s->nanosecond; }

int fp_source_byte_swapped(const fp_source *s)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return !s->big_endian;
#else
    return s->big_endian;
#endif
}

uint32_t fp_source_interface_count(const fp_source *s) { return s->n_ifs; }

const fp_interface *fp_source_interface(const fp_source *s, uint32_t id)
{
    return id < s->n_ifs ? &s->ifs[id] : NULL;
}

uint64_t fp_source_skipped(const fp_source *s) { return s->skipped; }
uint64_t fp_source_position(const fp_source *s) { return s->pos; }
uint64_t fp_source_size(const fp_source *s) { return s->mem ? s->mem_len : 0; }
fp_compression fp_source_compression(const fp_source *s) { return s->compression; }
const fp_error *fp_source_last_error(const fp_source *s) { return &s->last_error; }

const uint8_t *fp_source_pcap_header(const fp_source *s)
{
    return s->format == FP_FORMAT_PCAP ? s->pcap_header : NULL;
}

const uint8_t *fp_source_pcapng_prefix(const fp_source *s, size_t *len, uint32_t *n_interfaces)
{
    if (s->format != FP_FORMAT_PCAPNG || s->ng_prefix_state < 0 || !s->ng_prefix)
        return NULL;
    *len = s->ng_prefix_len;
    *n_interfaces = s->ng_prefix_ifs;
    return s->ng_prefix;
}

int fp_source_stable_data(const fp_source *s) { return s->mem != NULL; }
