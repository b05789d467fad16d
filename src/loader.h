/* loader.h - reading the migrations folder on a thread of its own, which the caller helps finish.
 *
 * Every pod start reads and hashes every migration file (the drift check of the no-op path)
 * while it connects to PostgreSQL. The handshake keeps the client and the server busy in turns,
 * so the folder is read on a background thread at the lowest CPU priority (nice 19, that thread
 * only): it takes the CPU the handshake leaves idle instead of slowing the handshake down. On 2
 * cores, 1,000 files, a loader at normal priority made the connection 1-2 ms slower; at nice 19
 * the connection takes what it takes without it. When the caller needs the set, it reads
 * whatever files are left itself, at its own priority. Only the listing (under a millisecond)
 * is waited for; a nice value ranks threads within their cgroup (a container, an autogroup), so
 * other pods' work does not starve it. The result is mig_set_load's, error included (the first
 * failing file in order). */
#ifndef SCHEMAGATE_LOADER_H
#define SCHEMAGATE_LOADER_H

#include <stddef.h>

#include "err.h"
#include "migrations.h"

struct loader;

/* Starts loading dir (mig_set_load's arguments). dir must stay valid until loader_finish.
 * Fails only without memory; without a thread, loader_finish does all the work. */
SG_MUSTCHECK int loader_start(const char *dir, size_t max_bytes, unsigned flags,
                              struct loader **out, struct sg_err *err);
/* Whether the folder is good so far: waits for the listing (a missing folder, a bad or
 * duplicate name fail there) and reads every file not yet claimed on the calling thread.
 * -1 with the error mig_set_load would give (the first failing file in order, of those read;
 * one the background thread still reads may fail later). l stays for loader_finish. */
SG_MUSTCHECK int loader_check(struct loader *l, struct sg_err *err);
/* Finishes the load on the calling thread and frees l: *out owns the set on success, and is
 * NULL on failure (err as mig_set_load would have set it). */
SG_MUSTCHECK int loader_finish(struct loader *l, struct mig_set **out, struct sg_err *err);

#endif /* SCHEMAGATE_LOADER_H */
