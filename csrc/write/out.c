/* Buffered output to a file or a sink, with safe replacement of files being read.
 *
 * Truncating a file that a source has mmap'd zeroes what packets still point
 * to (the map guard turns the SIGBUS into a TruncatedError), and truncating
 * one read as a stream loses its unread bytes. So when the target (after
 * symlinks) is a regular file a source maps (map guard) or reads (file
 * registry), or when the caller asks for an atomic write, we write a new file
 * `.NAME.PID-N.tmp` next to it with the target's permission bits and owner,
 * and rename it over the target at commit: open mappings keep the old inode
 * (hard links to it keep the old content too), and an abort leaves the
 * target untouched. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../source/file_registry.h"
#include "../source/mapguard.h"
#include "writer.h"

#define OUT_BUFFER (1u << 20)

struct fp_out {
    int fd;                 /* -1 for sinks */
    fp_sink_fn sink;
    void *ctx;
    uint8_t *buf;
    size_t len;
    uint64_t total;
    char *target;           /* replacing: the path renamed over at commit */
    char *tmp;              /* replacing: the temporary file */
    int sync;               /* fsync before the rename (an existing file is replaced) */
};

static int io_fail(fp_werror *e, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int io_fail(fp_werror *e, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof e->message)
        snprintf(e->message + n, sizeof e->message - (size_t)n, ": %s", strerror(err));
    e->kind = FP_WERR_IO;
    e->sys_errno = err;
    errno = err;
    return -1;
}

static fp_out *out_new(fp_werror *e)
{
    fp_out *o = calloc(1, sizeof *o);
    if (o)
        o->buf = malloc(OUT_BUFFER);
    if (!o || !o->buf) {
        free(o);
        io_fail(e, ENOMEM, "cannot allocate the write buffer");
        return NULL;
    }
    o->fd = -1;
    return o;
}

static void out_free(fp_out *o)
{
    free(o->buf);
    free(o->target);
    free(o->tmp);
    free(o);
}

/* Create the temporary file next to `target` with O_EXCL (the umask applies to
 * new files; an existing target's mode and owner are copied). */
static int open_temporary(fp_out *o, const char *target, const struct stat *old, fp_werror *e)
{
    static unsigned long counter;
    const char *slash = strrchr(target, '/');
    size_t dirlen = slash ? (size_t)(slash - target) + 1 : 0;
    const char *base = slash ? slash + 1 : target;
    size_t cap = strlen(target) + 64;
    o->tmp = malloc(cap);
    o->target = strdup(target);
    if (!o->tmp || !o->target)
        return io_fail(e, ENOMEM, "out of memory");
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned long n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        snprintf(o->tmp, cap, "%.*s.%s.%ld-%lu.tmp", (int)dirlen, target, base, (long)getpid(), n);
        o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (o->fd >= 0)
            break;
        if (errno != EEXIST)
            return io_fail(e, errno, "cannot create a temporary file next to '%s'", target);
    }
    if (o->fd < 0)
        return io_fail(e, EEXIST, "cannot create a temporary file next to '%s'", target);
    if (old) {
        if (fchown(o->fd, old->st_uid, old->st_gid) < 0 && errno != EPERM)
            return io_fail(e, errno, "cannot give '%s' the owner of '%s'", o->tmp, target);
        if (fchmod(o->fd, old->st_mode & 07777) < 0)
            return io_fail(e, errno, "cannot give '%s' the permissions of '%s'", o->tmp, target);
        o->sync = 1;
    }
    return 0;
}

/* Undo open_temporary(): close and remove what it created. */
static void drop_temporary(fp_out *o)
{
    if (o->fd >= 0) {
        close(o->fd);
        unlink(o->tmp);
    }
    free(o->tmp);
    free(o->target);
    o->tmp = o->target = NULL;
    o->fd = -1;
    o->sync = 0;
}

fp_out *fp_out_open_path(const char *path, int atomic, fp_werror *e)
{
    fp_out *o = out_new(e);
    if (!o)
        return NULL;
    /* Replace the file a symlink points to, not the link. */
    char *real = realpath(path, NULL);
    const char *target = real ? real : path;
    struct stat st;
    int exists = stat(target, &st) == 0;
    int regular = exists && S_ISREG(st.st_mode);
    int being_read = regular && (fp_mapguard_holds(st.st_dev, st.st_ino) ||
                                 fp_file_registry_contains(st.st_dev, st.st_ino));
    if ((being_read || (atomic && (regular || !exists))) &&
        open_temporary(o, target, regular ? &st : NULL, e) < 0) {
        drop_temporary(o);
        /* A writable file in a directory we may not write: atomicity was a
         * nicety, safety is not. */
        int denied = e->sys_errno == EACCES || e->sys_errno == EPERM || e->sys_errno == EROFS;
        if (being_read || !denied) {
            free(real);
            out_free(o);
            return NULL;
        }
    }
    free(real);
    if (o->fd < 0) {
        o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (o->fd < 0) {
            io_fail(e, errno, "cannot open '%s' for writing", path);
            out_free(o);
            return NULL;
        }
    }
    return o;
}

fp_out *fp_out_open_sink(fp_sink_fn sink, void *ctx, fp_werror *e)
{
    fp_out *o = out_new(e);
    if (o) {
        o->sink = sink;
        o->ctx = ctx;
    }
    return o;
}

int fp_out_replacing(const fp_out *o) { return o->tmp != NULL; }
size_t fp_out_room(const fp_out *o) { return OUT_BUFFER - o->len; }
uint64_t fp_out_bytes(const fp_out *o) { return o->total; }

static int emit(fp_out *o, const uint8_t *p, size_t n, fp_werror *e)
{
    if (o->sink)
        return o->sink(o->ctx, p, n) == 0 ? 0 : io_fail(e, errno ? errno : EIO, "write failed");
    while (n) {
        ssize_t k = write(o->fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return io_fail(e, errno, "cannot write '%s'", o->target ? o->tmp : "the capture");
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int fp_out_flush(fp_out *o, fp_werror *e)
{
    if (o->len == 0)
        return 0;
    size_t n = o->len;
    o->len = 0;
    return emit(o, o->buf, n, e);
}

int fp_out_write(fp_out *o, const void *p, size_t n, fp_werror *e)
{
    if (n > OUT_BUFFER - o->len && fp_out_flush(o, e) < 0)
        return -1;
    o->total += n;
    if (n >= OUT_BUFFER)
        return emit(o, p, n, e);
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    return 0;
}

int fp_out_commit(fp_out *o, fp_werror *e)
{
    int rc = fp_out_flush(o, e);
    if (rc == 0 && o->sync && fsync(o->fd) < 0)
        rc = io_fail(e, errno, "cannot sync '%s'", o->tmp);
    if (o->fd >= 0 && close(o->fd) < 0 && rc == 0)
        rc = io_fail(e, errno, "cannot write the capture");
    o->fd = -1;
    if (o->tmp) {
        if (rc == 0 && rename(o->tmp, o->target) < 0)
            rc = io_fail(e, errno, "cannot rename '%s' over '%s'", o->tmp, o->target);
        if (rc < 0)
            unlink(o->tmp);
    }
    out_free(o);
    return rc;
}

void fp_out_abort(fp_out *o)
{
    if (!o)
        return;
    if (o->tmp) {
        drop_temporary(o);
    } else if (o->fd >= 0) {
        fp_werror ignored;
        fp_out_flush(o, &ignored);
        close(o->fd);
    } else if (o->sink) {
        fp_werror ignored;
        fp_out_flush(o, &ignored);
    }
    out_free(o);
}
