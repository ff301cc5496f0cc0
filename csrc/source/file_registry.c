/* A small counted set of (dev, ino) behind a mutex: a process has few open
 * sources, so a linear scan is cheaper than any index. */
#include <pthread.h>
#include <stdlib.h>

#include "file_registry.h"

typedef struct {
    dev_t dev;
    ino_t ino;
    unsigned long count;
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *entries;
static size_t n_entries, cap_entries;

static entry *find(dev_t dev, ino_t ino)
{
    for (size_t i = 0; i < n_entries; i++)
        if (entries[i].dev == dev && entries[i].ino == ino)
            return &entries[i];
    return NULL;
}

int fp_file_registry_add(dev_t dev, ino_t ino)
{
    int rc = 0;
    pthread_mutex_lock(&lock);
    entry *e = find(dev, ino);
    if (e) {
        e->count++;
    } else {
        if (n_entries == cap_entries) {
            size_t cap = cap_entries ? cap_entries * 2 : 16;
            entry *grown = reallocarray(entries, cap, sizeof *entries);
            if (grown) {
                entries = grown;
                cap_entries = cap;
            }
        }
        if (n_entries < cap_entries)
            entries[n_entries++] = (entry){dev, ino, 1};
        else
            rc = -1;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void fp_file_registry_remove(dev_t dev, ino_t ino)
{
    pthread_mutex_lock(&lock);
    entry *e = find(dev, ino);
    if (e && --e->count == 0)
        *e = entries[--n_entries];
    pthread_mutex_unlock(&lock);
}

int fp_file_registry_contains(dev_t dev, ino_t ino)
{
    pthread_mutex_lock(&lock);
    int found = find(dev, ino) != NULL;
    pthread_mutex_unlock(&lock);
    return found;
}
