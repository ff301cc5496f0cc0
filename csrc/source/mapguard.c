/* Guarded file mappings (see mapguard.h). The signal handler only loads atomics and
 * calls mmap(2), a plain system call on Linux (not on POSIX's async-signal-safe list,
 * but it takes no user-space lock). */
#define _GNU_SOURCE 1

#include "mapguard.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Open captures at once; a source that finds the table full reads without a mapping. */
#define MAX_GUARDED 4096

typedef struct {
    _Atomic uintptr_t base;   /* 0: free or being set up; the handler skips it */
    _Atomic size_t len;
    _Atomic int lost;
    _Atomic int used;         /* claimed by fp_mapguard_add */
    dev_t dev;
    ino_t ino;
} guard_slot;

static guard_slot slots[MAX_GUARDED];
static _Atomic int slots_hi;              /* slots ever used: the handler scans [0, hi) */
static _Atomic uintptr_t page_mask;
static struct sigaction previous;         /* the SIGBUS action we chain to */
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_sigbus(int sig, siginfo_t *si, void *uctx);

static void chain(int sig, siginfo_t *si, void *uctx)
{
    if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
        previous.sa_sigaction(sig, si, uctx);
        return;
    }
    if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    /* Default action: restore it; a fault recurs when the load is retried, a signal
     * sent by kill() is sent again. */
    signal(sig, SIG_DFL);
    if (si->si_code <= 0)
        raise(sig);
}

static void on_sigbus(int sig, siginfo_t *si, void *uctx)
{
    if (si->si_code > 0) {    /* raised by the kernel for a faulting access */
        uintptr_t a = (uintptr_t)si->si_addr;
        int hi = atomic_load(&slots_hi);
        for (int i = 0; i < hi; i++) {
            uintptr_t base = atomic_load(&slots[i].base);
            if (base == 0 || a < base || a - base >= atomic_load(&slots[i].len))
                continue;
            uintptr_t mask = atomic_load(&page_mask);
            void *page = (void *)(a & ~mask);
            if (mmap(page, (size_t)mask + 1, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                     -1, 0) == MAP_FAILED)
                break;
            atomic_store(&slots[i].lost, 1);
            return;
        }
    }
    chain(sig, si, uctx);
}

/* Install our handler, chaining to whatever is there; again if someone (e.g.
 * faulthandler.enable() after import) replaced it since. */
static int ensure_handler(void)
{
    int rc = 0;
    pthread_mutex_lock(&install_lock);
    struct sigaction cur;
    if (sigaction(SIGBUS, NULL, &cur) < 0) {
        rc = -1;
    } else if (!((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigbus)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigbus;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        previous = cur;
        if (sigaction(SIGBUS, &sa, NULL) < 0)
            rc = -1;
    }
    pthread_mutex_unlock(&install_lock);
    return rc;
}

int fp_mapguard_add(const void *base, size_t len, dev_t dev, ino_t ino)
{
    if (atomic_load(&page_mask) == 0)
        atomic_store(&page_mask, (uintptr_t)sysconf(_SC_PAGESIZE) - 1);
    if (ensure_handler() < 0)
        return -1;
    for (int i = 0; i < MAX_GUARDED; i++) {
        int expected = 0;
        if (!atomic_compare_exchange_strong(&slots[i].used, &expected, 1))
            continue;
        slots[i].dev = dev;
        slots[i].ino = ino;
        atomic_store(&slots[i].lost, 0);
        atomic_store(&slots[i].len, len);
        atomic_store(&slots[i].base, (uintptr_t)base);   /* last: now visible to the handler */
        int hi = atomic_load(&slots_hi);
        while (hi < i + 1 && !atomic_compare_exchange_weak(&slots_hi, &hi, i + 1))
            ;
        return i;
    }
    return -1;
}

void fp_mapguard_remove(int slot)
{
    if (slot < 0 || slot >= MAX_GUARDED)
        return;
    atomic_store(&slots[slot].base, 0);
    atomic_store(&slots[slot].used, 0);
}

int fp_mapguard_lost(int slot)
{
    return slot >= 0 && slot < MAX_GUARDED && atomic_load(&slots[slot].lost);
}

const _Atomic int *fp_mapguard_lost_flag(int slot)
{
    static const _Atomic int never = 0;
    return slot >= 0 && slot < MAX_GUARDED ? &slots[slot].lost : &never;
}

int fp_mapguard_holds(dev_t dev, ino_t ino)
{
    int hi = atomic_load(&slots_hi);
    for (int i = 0; i < hi; i++)
        if (atomic_load(&slots[i].base) != 0 && slots[i].dev == dev && slots[i].ino == ino)
            return 1;
    return 0;
}
