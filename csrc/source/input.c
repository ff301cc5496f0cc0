/* Byte inputs for stream sources: a descriptor read with read(2), and a
 * caller's memory buffer (compressed captures handed over as bytes). Other
 * inputs (Python file objects, decoders) implement the same fp_input. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source_impl.h"

static void out_of_memory(fp_error *err)
{
    fp_src_error(err, FP_ERR_IO, 0, 0, "out of memory");
    err->sys_errno = ENOMEM;
}

static int64_t fd_read(void *ctx, uint8_t *buf, size_t len, fp_error *err)
{
    int fd = *(int *)ctx;
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        int e = errno;
        fp_src_error(err, FP_ERR_IO, 0, 0, "cannot read the capture stream: %s", strerror(e));
        err->sys_errno = e;
        return -1;
    }
}

static void fd_close(void *ctx)
{
    close(*(int *)ctx);
    free(ctx);
}

int fp_input_fd(fp_input *in, int fd, fp_error *err)
{
    int *box = malloc(sizeof *box);
    if (!box) {
        close(fd);
        out_of_memory(err);
        return -1;
    }
    *box = fd;
    in->read = fd_read;
    in->close = fd_close;
    in->ctx = box;
    return 0;
}

typedef struct {
    const uint8_t *p;
    size_t left;
} mem_input;

static int64_t mem_read(void *ctx, uint8_t *buf, size_t len, fp_error *err)
{
    (void)err;
    mem_input *m = ctx;
    size_t k = len < m->left ? len : m->left;
    memcpy(buf, m->p, k);
    m->p += k;
    m->left -= k;
    return (int64_t)k;
}

int fp_input_memory(fp_input *in, const uint8_t *p, size_t len, fp_error *err)
{
    mem_input *m = malloc(sizeof *m);
    if (!m) {
        out_of_memory(err);
        return -1;
    }
    m->p = p;
    m->left = len;
    in->read = mem_read;
    in->close = free;
    in->ctx = m;
    return 0;
}

void fp_input_close(fp_input *in)
{
    if (in->close)
        in->close(in->ctx);
    memset(in, 0, sizeof *in);
}
