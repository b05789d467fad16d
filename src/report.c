/* report.c - the status report: gathered once into a struct, written as JSON or as a table. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "history.h"
#include "lease.h"
#include "lock.h"
#include "plan.h"

/* ---- gathering ---- */

static char *dup_or_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static long long num(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int read_runs(PGconn *c, struct report *rep, struct sg_err *err)
{
	PGresult *r = NULL;
	char *sql;
	int n, rc;

	if (!rep->h.exists)
		return 0;
	/* The newest runs as readiness reads them too (history.c): a run whose process died
	 * after its last commit but before recording its end shows as abandoned, without
	 * writing anything. */
	if ((sql = hist_runs_recent_sql(&rep->h, 10)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	rc = db_query(c, sql, 0, NULL, &r, err);
	free(sql);
	if (rc != 0)
		return -1;
	n = PQntuples(r);
	if (n > 0 && (rep->runs = calloc((size_t)n, sizeof *rep->runs)) == NULL) {
		PQclear(r);
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	for (int i = 0; i < n; i++) {
		struct report_run *run = &rep->runs[rep->nruns++];

		run->id = num(r, i, 0);
		run->command = dup_or_null(r, i, 1);
		run->identity = dup_or_null(r, i, 2);
		run->backend_pid = num(r, i, 3);
		run->started_at = dup_or_null(r, i, 4);
		run->finished_at = dup_or_null(r, i, 5);
		run->from_version = num(r, i, 6);
		run->to_version = num(r, i, 7);
		run->has_reached = !PQgetisnull(r, i, 8);
		run->reached_version = run->has_reached ? num(r, i, 8) : -1;
		run->outcome = dup_or_null(r, i, 9);
		run->error = dup_or_null(r, i, 10);
		run->has_fencing = !PQgetisnull(r, i, 11);
		run->fencing_token = run->has_fencing ? num(r, i, 11) : 0;
		if (run->command == NULL || run->identity == NULL || run->started_at == NULL ||
		    run->outcome == NULL) {
			PQclear(r);
			return sg_err_set(err, SG_E_NOMEM, "out of memory");
		}
	}
	PQclear(r);
	return 0;
}

/* Who holds the advisory lock (lock.h says how its key shows in pg_locks). */
static int read_lock(PGconn *c, struct report *rep, struct sg_err *err)
{
	static const char sql[] =
	    "SELECT l.pid, a.application_name, "
	    "to_char(coalesce(a.state_change, a.backend_start) AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	    "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE " LOCK_HELD_SQL;
	char k[24];
	const char *params[1] = {k};
	PGresult *r = NULL;

	snprintf(k, sizeof k, "%lld", (long long)rep->lock.key);
	if (db_query(c, sql, 1, params, &r, err) != 0)
		return -1;
	rep->lock.held = PQntuples(r) > 0;
	if (rep->lock.held) {
		rep->lock.pid = num(r, 0, 0);
		rep->lock.application_name = strdup(PQgetvalue(r, 0, 1));
		rep->lock.since = strdup(PQgetvalue(r, 0, 2));
	}
	PQclear(r);
	if (rep->lock.held && (rep->lock.application_name == NULL || rep->lock.since == NULL))
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	return 0;
}

/* The Redis lease, when election by Redis is configured: holder, time left,
 * last fencing token. Redis being down is reported, never fatal. */
static void read_lease(const struct cfg *cfg, struct report *rep)
{
	struct sg_err err = {.code = SG_E_OK};

	rep->lease.configured = cfg->redis_url != NULL;
	if (!rep->lease.configured)
		return;
	lease_name(LEASE_KEY_PREFIX, rep->lock.key, rep->lease.key, sizeof rep->lease.key);
	rep->lease.reachable = lease_peek(cfg, rep->lock.key, &rep->lease.info, &err) == 0;
	if (!rep->lease.reachable)
		snprintf(rep->lease.error, sizeof rep->lease.error, "%.255s", err.msg);
}

int report_build(PGconn *c, const struct cfg *cfg, const struct mig_set *set, struct report **out,
                 struct sg_err *err)
{
	static const struct mig_set empty = {NULL, 0};
	struct report *rep = NULL;
	char *schema = NULL, where[512];
	int rc = -1;

	*out = NULL;
	if ((rep = calloc(1, sizeof *rep)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	rep->cfg = cfg;
	rep->set = set;
	if (db_first_schema(cfg->search_path, &schema, err) != 0 ||
	    hist_read(c, schema, cfg->table, &rep->h, err) != 0 ||
	    plan_make(set != NULL ? set : &empty, &rep->h, cfg->target, &rep->p, err) != 0)
		goto cleanup;
	/* What migrate would do or refuse, computed by plan.c alone. */
	plan_verdict(&rep->p, &rep->h, PLAN_ALLOW(cfg), &rep->verdict);
	db_target(cfg, where, sizeof where);
	if ((rep->database = strdup(where)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	rep->lock.key = lock_key(rep->h.database, rep->h.schema, cfg->table);
	if (read_runs(c, rep, err) != 0 || read_lock(c, rep, err) != 0)
		goto cleanup;
	read_lease(cfg, rep);
	*out = rep; /* ownership moves to the caller */
	rep = NULL;
	rc = 0;
cleanup:
	report_free(rep);
	free(schema);
	return rc;
}

void report_free(struct report *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nruns; i++) {
		free(r->runs[i].command);
		free(r->runs[i].identity);
		free(r->runs[i].started_at);
		free(r->runs[i].finished_at);
		free(r->runs[i].outcome);
		free(r->runs[i].error);
	}
	free(r->runs);
	free(r->lock.application_name);
	free(r->lock.since);
	plan_free(&r->p);
	hist_free(&r->h);
	free(r->database);
	free(r);
}

int report_read_plan(PGconn *c, const struct cfg *cfg, const struct mig_set *set, struct hist *h,
                     struct plan *p, struct plan_verdict *v, struct sg_err *err)
{
	char *schema = NULL;
	int rc = -1;

	memset(h, 0, sizeof *h);
	memset(p, 0, sizeof *p);
	if (db_first_schema(cfg->search_path, &schema, err) != 0 ||
	    hist_read(c, schema, cfg->table, h, err) != 0 ||
	    plan_make(set, h, cfg->target, p, err) != 0)
		goto cleanup;
	plan_verdict(p, h, PLAN_ALLOW(cfg), v);
	rc = 0;
cleanup:
	if (rc != 0) {
		plan_free(p);
		hist_free(h);
	}
	free(schema);
	return rc;
}

int report_verdict(PGconn *c, const struct cfg *cfg, const struct mig_set *set,
                   struct plan_verdict *v, struct sg_err *err)
{
	struct hist h;
	struct plan p;

	if (report_read_plan(c, cfg, set, &h, &p, v, err) != 0)
		return -1;
	plan_free(&p);
	hist_free(&h);
	return 0;
}

/* ---- JSON ---- */

static struct json_object *jstr(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

static struct json_object *jint(long long v)
{
	return json_object_new_int64(v);
}

static struct json_object *jbool(bool b)
{
	return json_object_new_boolean(b);
}

/* True when the applied row's file is in the folder and has another checksum. */
static const struct mig *file_of(const struct report *rep, const struct hist_row *row)
{
	return rep->set != NULL ? mig_set_find(rep->set, row->version) : NULL;
}

static struct json_object *applied_json(const struct report *rep)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < rep->h.n; i++) {
		const struct hist_row *r = &rep->h.v[i];
		const struct mig *m = file_of(rep, r);
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "version", jint(r->version));
		json_object_object_add(o, "name", jstr(r->name));
		json_object_object_add(o, "checksum", jstr(r->checksum));
		json_object_object_add(o, "applied_at", jstr(r->applied_at));
		json_object_object_add(o, "duration_ms", jint(r->duration_ms));
		json_object_object_add(o, "applied_by", jstr(r->applied_by));
		json_object_object_add(o, "dirty", jbool(r->dirty));
		json_object_object_add(o, "file", m != NULL ? jstr(m->up_file) : NULL);
		json_object_object_add(o, "drift",
		                       jbool(m != NULL && strcmp(m->checksum, r->checksum) != 0));
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *mig_list(const struct mig *const *v, size_t n, const struct hist *h)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		const struct hist_row *r = hist_find(h, v[i]->version);

		json_object_object_add(o, "version", jint(v[i]->version));
		json_object_object_add(o, "name", jstr(v[i]->name));
		json_object_object_add(o, "file", jstr(v[i]->up_file));
		json_object_object_add(o, "file_checksum", jstr(v[i]->checksum));
		if (r != NULL)
			json_object_object_add(o, "applied_checksum", jstr(r->checksum));
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *runs_json(const struct report *rep)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < rep->nruns; i++) {
		const struct report_run *r = &rep->runs[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "id", jint(r->id));
		json_object_object_add(o, "command", jstr(r->command));
		json_object_object_add(o, "identity", jstr(r->identity));
		json_object_object_add(o, "backend_pid", jint(r->backend_pid));
		json_object_object_add(o, "started_at", jstr(r->started_at));
		json_object_object_add(o, "finished_at", jstr(r->finished_at));
		/* The runs table keeps "no version" as -1 (its column is NOT NULL): null here. */
		json_object_object_add(o, "from_version",
		                       r->from_version >= 0 ? jint(r->from_version) : NULL);
		json_object_object_add(o, "to_version", jint(r->to_version));
		json_object_object_add(o, "reached_version",
		                       r->has_reached ? jint(r->reached_version) : NULL);
		json_object_object_add(o, "outcome", jstr(r->outcome));
		json_object_object_add(o, "error", jstr(r->error));
		json_object_object_add(o, "fencing_token",
		                       r->has_fencing ? jint(r->fencing_token) : NULL);
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *lock_json(const struct report *rep)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "key", jint(rep->lock.key));
	json_object_object_add(o, "held", jbool(rep->lock.held));
	if (rep->lock.held) {
		json_object_object_add(o, "pid", jint(rep->lock.pid));
		json_object_object_add(o, "application_name", jstr(rep->lock.application_name));
		json_object_object_add(o, "since", jstr(rep->lock.since));
	}
	return o;
}

static struct json_object *lease_json(const struct report *rep)
{
	const struct lease_info *li = &rep->lease.info;
	struct json_object *o;

	if (!rep->lease.configured)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "key", jstr(rep->lease.key));
	json_object_object_add(o, "reachable", jbool(rep->lease.reachable));
	if (!rep->lease.reachable) {
		json_object_object_add(o, "error", jstr(rep->lease.error));
		return o;
	}
	json_object_object_add(o, "held", jbool(li->holder[0] != '\0'));
	json_object_object_add(o, "holder", li->holder[0] != '\0' ? jstr(li->holder) : NULL);
	json_object_object_add(o, "remaining_ms",
	                       li->remaining_ms >= 0 ? jint(li->remaining_ms) : NULL);
	json_object_object_add(o, "fencing_token", li->fencing > 0 ? jint(li->fencing) : NULL);
	return o;
}

/* The verdict's reason, or why there is none. */
static const char *reason(const struct report *rep)
{
	if (rep->set != NULL)
		return rep->verdict.reason;
	return rep->folder_error != NULL ? rep->folder_error
	                                 : "the migrations folder is not readable";
}

struct json_object *report_to_json(const struct report *rep)
{
	const struct plan *p = &rep->p;
	struct json_object *o = json_object_new_object(), *v, *missing;

	if (o == NULL)
		return NULL;
	/* The verdict comes first: what migrate would do or refuse. */
	v = json_object_new_object();
	json_object_object_add(
	    v, "state", jstr(rep->set != NULL ? plan_state_name(rep->verdict.state) : "unknown"));
	json_object_object_add(v, "refused", jbool(rep->set != NULL && rep->verdict.refused));
	json_object_object_add(v, "reason", jstr(reason(rep)));
	json_object_object_add(o, "verdict", v);
	json_object_object_add(o, "database", jstr(rep->database));
	json_object_object_add(o, "schema", jstr(rep->h.schema));
	json_object_object_add(o, "table", jstr(rep->cfg->table));
	json_object_object_add(o, "history_exists", jbool(rep->h.exists));
	/* null: no version applied (0 is a version); target null: no file, or no folder */
	json_object_object_add(o, "current_version", p->head >= 0 ? jint(p->head) : NULL);
	json_object_object_add(o, "target_version",
	                       rep->set != NULL && p->target >= 0 ? jint(p->target) : NULL);
	json_object_object_add(o, "dirty", jbool(p->dirty != NULL));
	json_object_object_add(o, "migrations_dir", jstr(rep->cfg->dir));
	json_object_object_add(o, "folder_readable", jbool(rep->set != NULL));
	json_object_object_add(
	    o, "folder_error",
	    rep->set == NULL && rep->folder_error != NULL ? jstr(rep->folder_error) : NULL);
	json_object_object_add(o, "applied", applied_json(rep));
	json_object_object_add(o, "pending", mig_list(p->pending, p->npending, &rep->h));
	json_object_object_add(o, "drift", mig_list(p->drifted, p->ndrifted, &rep->h));
	json_object_object_add(o, "out_of_order",
	                       mig_list(p->out_of_order, p->nout_of_order, &rep->h));
	missing = json_object_new_array();
	for (size_t i = 0; i < p->nmissing; i++) {
		struct json_object *m = json_object_new_object();

		json_object_object_add(m, "version", jint(p->missing[i]->version));
		json_object_object_add(m, "name", jstr(p->missing[i]->name));
		json_object_array_add(missing, m);
	}
	json_object_object_add(o, "missing", missing);
	json_object_object_add(o, "runs", runs_json(rep));
	json_object_object_add(o, "lock", lock_json(rep));
	json_object_object_add(o, "lease", lease_json(rep));
	return o;
}

/* ---- text ---- */

/* Writes s for a terminal: control characters (ESC included) and DEL, which a database row
 * may hold, become \xNN so they cannot move the cursor or recolor the screen. With width > 0
 * the text is cut to width characters (UTF-8 code points), the last one an ellipsis when
 * ellipsis is set, and padded with blanks to width when pad is set. */
static void put_text_cut(FILE *f, const char *s, size_t width, bool pad, bool ellipsis)
{
	if (s == NULL)
		s = "-";
	size_t shown = 0, total = 0, i;

	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c & 0xc0) != 0x80)
			total += c < 0x20 || c == 0x7f ? 4 : 1;
	}
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t w = (c & 0xc0) == 0x80 ? 0 : c < 0x20 || c == 0x7f ? 4 : 1;

		if (width > 0 && total > width && shown + w > width - (ellipsis ? 1 : 0))
			break;
		if (w == 4)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
		shown += w;
	}
	if (width > 0 && total > width && ellipsis) {
		fputs("\u2026", f);
		shown++;
	}
	while (pad && shown < width) {
		fputc(' ', f);
		shown++;
	}
}

void report_put_text(FILE *f, const char *s, size_t width, bool pad)
{
	put_text_cut(f, s, width, pad, true);
}

static void put_text(FILE *f, const char *s, size_t width, bool pad)
{
	report_put_text(f, s, width, pad);
}

/* A checksum prefix, as git shows short hashes: cut without an ellipsis, escaped all the same
 * (the history row is database-controlled text). */
static void short_sum(FILE *f, const char *s)
{
	put_text_cut(f, s, 12, true, false);
	fputs("  ", f);
}

/* One text cell followed by the two blanks that separate columns. */
static void cell(FILE *f, const char *s, size_t width)
{
	put_text(f, s, width, true);
	fputs("  ", f);
}

/* Digits of the widest version among the applied and pending rows (at least "VERSION"). */
static int version_width(const struct report *rep)
{
	int w = (int)strlen("VERSION");
	char buf[24];

	for (size_t i = 0; i < rep->h.n + rep->p.npending; i++) {
		long v = i < rep->h.n ? rep->h.v[i].version : rep->p.pending[i - rep->h.n]->version;
		int n = snprintf(buf, sizeof buf, "%ld", v);

		if (n > w)
			w = n;
	}
	return w;
}

static void print_lease(FILE *f, const struct report *rep)
{
	const struct lease_info *li = &rep->lease.info;

	if (!rep->lease.configured)
		return;
	if (!rep->lease.reachable) {
		fprintf(f, "lease:      %s: Redis unreachable (", rep->lease.key);
		put_text(f, rep->lease.error, 0, false);
		fputs(")\n", f);
	} else if (li->holder[0] != '\0') {
		fputs("lease:      held by ", f);
		put_text(f, li->holder, 0, false);
		fprintf(f, ", %lld ms left (fencing token ", li->remaining_ms);
		if (li->fencing > 0)
			fprintf(f, "%lld)\n", li->fencing);
		else
			fputs("-)\n", f);
	} else if (li->fencing > 0) {
		fprintf(f, "lease:      free (last fencing token %lld)\n", li->fencing);
	} else {
		fputs("lease:      free (last fencing token -)\n", f);
	}
}

void report_print_text(FILE *f, const struct report *rep)
{
	const struct plan *p = &rep->p;
	int vw = version_width(rep);

	if (rep->set != NULL)
		fprintf(f, "verdict:    %s%s: ", rep->verdict.refused ? "REFUSED, " : "",
		        plan_state_name(rep->verdict.state));
	else
		fputs("verdict:    unknown: ", f);
	put_text(f, reason(rep), 0, false);
	fputs("\ndatabase:   ", f);
	put_text(f, rep->database, 0, false);
	fputs("\nhistory:    ", f);
	put_text(f, rep->h.schema, 0, false);
	fprintf(f, ".%s%s\n", rep->cfg->table, rep->h.exists ? "" : " (not created yet)");
	{
		char head[24], target[24];

		fprintf(f, "version:    %s (target %s)%s\n", hist_version_text(p->head, head),
		        rep->set != NULL && p->target >= 0 ? hist_version_text(p->target, target)
		                                           : "-",
		        p->dirty != NULL ? "  DIRTY" : "");
	}
	fprintf(f, "pending:    %zu   drift: %zu   missing files: %zu\n", p->npending, p->ndrifted,
	        p->nmissing);
	if (rep->lock.held) {
		fprintf(f, "lock:       held by pid %lld (", rep->lock.pid);
		put_text(f, rep->lock.application_name, 0, false);
		fprintf(f, ") since %s\n", rep->lock.since);
	} else {
		fprintf(f, "lock:       free\n");
	}
	print_lease(f, rep);
	fprintf(f, "\n%-*s  %-32s  %-24s  %8s  %-20s  %-12s  %s\n", vw, "VERSION", "NAME",
	        "APPLIED AT", "MS", "APPLIED BY", "CHECKSUM", "STATE");
	for (size_t i = 0; i < rep->h.n; i++) {
		const struct hist_row *r = &rep->h.v[i];
		const struct mig *m = file_of(rep, r);
		const char *state = r->dirty                                             ? "DIRTY"
		                    : m != NULL && strcmp(m->checksum, r->checksum) != 0 ? "DRIFT"
		                    : m == NULL ? "applied (no file)"
		                    : strncmp(r->applied_by, "baseline ", 9) == 0 ? "baselined"
		                                                                  : "applied";

		fprintf(f, "%-*ld  ", vw, r->version);
		cell(f, r->name, 32);
		cell(f, r->applied_at, 24);
		fprintf(f, "%8ld  ", r->duration_ms);
		cell(f, r->applied_by, 20);
		short_sum(f, r->checksum);
		fprintf(f, "%s\n", state);
	}
	for (size_t i = 0; i < p->npending; i++) {
		const struct mig *m = p->pending[i];

		fprintf(f, "%-*ld  ", vw, m->version);
		cell(f, m->name, 32);
		fprintf(f, "%-24s  %8s  %-20s  %-12.12s  %s\n", "-", "-", "-", m->checksum,
		        "pending"); /* our own hex digest */
	}
	if (rep->nruns > 0) {
		fprintf(f, "\nRECENT RUNS\n%-6s  %-8s  %-24s  %-20s  %-11s  %s\n", "ID", "COMMAND",
		        "STARTED", "BY", "OUTCOME", "VERSIONS / ERROR");
		for (size_t i = 0; i < rep->nruns; i++) {
			const struct report_run *r = &rep->runs[i];
			char from[24];

			fprintf(f, "%-6lld  ", r->id);
			cell(f, r->command, 8);
			cell(f, r->started_at, 24);
			cell(f, r->identity, 20);
			cell(f, r->outcome, 11);
			fprintf(f, "%s -> %lld", hist_version_text((long)r->from_version, from),
			        r->reached_version);
			if (r->error != NULL) {
				fputs("  ", f);
				put_text(f, r->error, 0, false);
			}
			fputc('\n', f);
		}
	}
}
