/* loader.c - reading the migrations folder on a thread of its own, which the caller helps finish.
 */
#include "loader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

struct loader {
	const char *dir;
	size_t max_bytes;
	unsigned flags;
	pthread_t thread;
	bool threaded;
	pthread_mutex_t mu; /* guards the fields down to err */
	pthread_cond_t cv;  /* signalled when scanned becomes true */
	bool scanned;       /* the scan is done (scan set, or err when it failed) */
	struct mig_scan *scan;
	size_t bad;         /* the lowest index of a file that failed; SIZE_MAX: none */
	struct sg_err err;  /* the scan's error, or file bad's */
	atomic_size_t next; /* the next file index to claim */
	atomic_bool stop;   /* a file failed: claim no more */
};

/* The calling thread yields the CPU to every other thread that wants it (nice 19, this thread
 * only: on Linux the nice value is per thread). Raising one's own nice value needs no
 * privilege; where it is refused, the thread simply runs at normal priority. */
static void background_priority(void)
{
#ifdef __linux__
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
#endif
}

/* Claims and reads files until none is left or one failed. Every index below a failing one
 * was claimed before it and is read to the end, so the lowest failing index is the one that a
 * reading in order would have stopped at. */
static void read_files(struct loader *l)
{
	size_t n = mig_scan_count(l->scan);

	while (!atomic_load(&l->stop)) {
		size_t i = atomic_fetch_add(&l->next, 1);
		struct sg_err e;

		if (i >= n)
			return;
		if (mig_scan_read(l->scan, i, &e) == 0)
			continue;
		pthread_mutex_lock(&l->mu);
		if (i < l->bad) {
			l->bad = i;
			l->err = e;
		}
		pthread_mutex_unlock(&l->mu);
		atomic_store(&l->stop, true);
	}
}

/* Lists and pairs the files; the caller waits for this part (a few hundred microseconds for
 * 1,000 files), then helps read them. */
static void scan(struct loader *l)
{
	struct mig_scan *s = NULL;
	struct sg_err e;
	int rc = mig_scan_open(l->dir, l->max_bytes, l->flags, &s, &e);

	pthread_mutex_lock(&l->mu);
	l->scan = s;
	if (rc != 0)
		l->err = e;
	l->scanned = true;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static void *run(void *arg)
{
	struct loader *l = arg;

	background_priority();
	scan(l);
	if (l->scan != NULL)
		read_files(l);
	return NULL;
}

int loader_start(const char *dir, size_t max_bytes, unsigned flags, struct loader **out,
                 struct sg_err *err)
{
	struct loader *l;

	*out = NULL;
	if ((l = calloc(1, sizeof *l)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	l->dir = dir;
	l->max_bytes = max_bytes;
	l->flags = flags;
	l->bad = SIZE_MAX;
	atomic_init(&l->next, 0);
	atomic_init(&l->stop, false);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->threaded = pthread_create(&l->thread, NULL, run, l) == 0;
	*out = l;
	return 0;
}

/* Waits for the listing (does it, without a thread). */
static void wait_scanned(struct loader *l)
{
	if (l->threaded) {
		pthread_mutex_lock(&l->mu);
		while (!l->scanned)
			pthread_cond_wait(&l->cv, &l->mu);
		pthread_mutex_unlock(&l->mu);
	} else if (!l->scanned) {
		scan(l);
	}
}

int loader_check(struct loader *l, struct sg_err *err)
{
	int rc = 0;

	wait_scanned(l);
	if (l->scan != NULL)
		read_files(l);
	pthread_mutex_lock(&l->mu);
	if (l->scan == NULL || l->bad != SIZE_MAX) {
		*err = l->err;
		rc = -1;
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int loader_finish(struct loader *l, struct mig_set **out, struct sg_err *err)
{
	int rc = -1;

	*out = NULL;
	wait_scanned(l);
	if (l->scan != NULL)
		read_files(l);
	if (l->threaded)
		pthread_join(l->thread, NULL);
	if (l->scan == NULL || l->bad != SIZE_MAX) {
		*err = l->err;
		mig_scan_free(l->scan);
	} else {
		*out = mig_scan_take(l->scan);
		rc = 0;
	}
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
	return rc;
}
