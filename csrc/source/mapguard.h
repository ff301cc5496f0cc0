/* Guarded file mappings: reading a mapped capture that another process truncates
 * (tcpdump restarting, logrotate's copytruncate) must not kill the process with SIGBUS.
 *
 * Every read-only file mapping of ours is registered here. A SIGBUS whose address lies
 * inside one replaces the faulting page with zeros (an anonymous mapping over it) and
 * marks that mapping lost; the faulting load then completes, reading zeros. Sources
 * check the mark after touching each record's last byte, so a truncation ends iteration
 * with FP_ERR_TRUNCATED before a zeroed record is delivered. Faults anywhere else go to
 * the handler that was installed before ours (Python's faulthandler, or the default
 * action). Python-free and async-signal-safe on the handler side: a fixed table of
 * atomics, no locks, no allocation. */
#ifndef FP_MAPGUARD_H
#define FP_MAPGUARD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Register [base, base+len) mapped from file (dev, ino). Returns a slot >= 0, or -1
 * when the table is full or the handler cannot be installed (the caller then reads the
 * file without a mapping). */
int fp_mapguard_add(const void *base, size_t len, dev_t dev, ino_t ino);
void fp_mapguard_remove(int slot);
/* Nonzero once a page of this mapping vanished (the file shrank under it). */
int fp_mapguard_lost(int slot);
/* The mark fp_mapguard_lost reads, for a reader checking it on every record. */
const _Atomic int *fp_mapguard_lost_flag(int slot);
/* Nonzero while some live mapping of ours holds file (dev, ino): writers must not
 * truncate it in place. */
int fp_mapguard_holds(dev_t dev, ino_t ino);

#endif
