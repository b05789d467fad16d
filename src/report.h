/* report.h - everything `status` knows, as one plain struct, and its two formatters (JSON, text).
 */
#ifndef SCHEMAGATE_REPORT_H
#define SCHEMAGATE_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#include "config.h"
#include "err.h"
#include "history.h"
#include "lease.h"
#include "migrations.h"
#include "plan.h"

/* One audit row of the runs table, as status shows it. Text fields are malloc'd. */
struct report_run {
	long long id, backend_pid, from_version, to_version;
	long long reached_version; /* valid when has_reached */
	long long fencing_token;   /* valid when has_fencing */
	bool has_reached, has_fencing;
	char *command, *identity, *started_at, *outcome;
	char *finished_at; /* NULL while running */
	char *error;       /* NULL when none */
};

/* The state of the migrations, gathered once. Plain data: the formatters below are the only
 * places where field names become JSON keys or table columns. */
struct report {
	char *database;              /* the target, password redacted (db_target) */
	const struct cfg *cfg;       /* borrowed: table, migrations_dir, allow_drift */
	const struct mig_set *set;   /* borrowed; NULL when the folder is unreadable */
	const char *folder_error;    /* borrowed: why set is NULL, when the caller knows; or NULL */
	struct hist h;               /* the history, read now */
	struct plan p;               /* the folder against the history (points into set and h) */
	struct plan_verdict verdict; /* plan_verdict(p); meaningful when set != NULL */
	struct report_run *runs;     /* the newest 10 runs, newest first */
	size_t nruns;
	struct {
		int64_t key; /* the advisory lock key */
		bool held;
		long long pid;                  /* holder's backend pid, when held */
		char *application_name, *since; /* when held, else NULL */
	} lock;
	struct {
		bool configured; /* REDIS_URL is set; nothing else is meaningful without it */
		char key[64];    /* the lease's Redis key */
		bool reachable;
		char error[256];        /* why not, when !reachable */
		struct lease_info info; /* when reachable */
	} lease;
};

/* Gathers the state over an open connection (search_path already applied): history,
 * pending/drift/missing against set (NULL: folder unreadable, so no comparison), recent runs,
 * advisory lock holder, lease. A few round trips, no writes. On success *out owns the report
 * (report_free); it borrows cfg and set, which must outlive it. */
SG_MUSTCHECK int report_build(PGconn *c, const struct cfg *cfg, const struct mig_set *set,
                              struct report **out, struct sg_err *err);
void report_free(struct report *r); /* NULL-safe */

/* The report as JSON (the `status --json` and /admin/migration-status document). The caller
 * owns the object (json_object_put); NULL when out of memory. */
struct json_object *report_to_json(const struct report *r);

/* The history read now (h), the plan of set against it up to cfg->target (p) and its verdict
 * (v): what report_verdict gives, with the history and plan too, for those that need the
 * pending files (plan). No writes. On success the caller frees h and p (hist_free, plan_free);
 * on failure both are empty. */
SG_MUSTCHECK int report_read_plan(PGconn *c, const struct cfg *cfg, const struct mig_set *set,
                                  struct hist *h, struct plan *p, struct plan_verdict *v,
                                  struct sg_err *err);

/* The verdict alone (plan_verdict over the history read now), for verify and the readiness
 * checker: two round trips, no writes. */
SG_MUSTCHECK int report_verdict(PGconn *c, const struct cfg *cfg, const struct mig_set *set,
                                struct plan_verdict *v, struct sg_err *err);

/* Writes s (NULL: "-") for a terminal: control characters and DEL become \xNN so they cannot
 * move the cursor or recolor the screen. With width > 0 the text is cut to width characters
 * (UTF-8 code points), the last an ellipsis, and padded with blanks to width when pad is set.
 * For every table schemagate prints. */
void report_put_text(FILE *f, const char *s, size_t width, bool pad);

/* Writes the readable table of a report. Database-controlled text is escaped. */
void report_print_text(FILE *f, const struct report *r);

#endif /* SCHEMAGATE_REPORT_H */
