/* The regular files this process reads as streams: (st_dev, st_ino) of every
 * open source reading one through a descriptor or a file object, counted.
 * (Mapped files are in the map guard, fp_mapguard_holds().) Writers consult
 * both so that writing to a file being read replaces it (temporary file, then
 * rename) instead of truncating bytes a reader has not consumed. Process-wide
 * on purpose: like a mapping, an open file is a process resource, whichever
 * Reader or interpreter holds it. Thread-safe. Python-free. */
#ifndef FP_FILE_REGISTRY_H
#define FP_FILE_REGISTRY_H

#include <sys/types.h>

/* 0, or -1 when out of memory (the file is then not protected). */
int fp_file_registry_add(dev_t dev, ino_t ino);
void fp_file_registry_remove(dev_t dev, ino_t ino);
int fp_file_registry_contains(dev_t dev, ino_t ino);

#endif
