/* report.c - the status report: gathered once as JSON, printed as JSON or as a table. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "history.h"
#include "lease.h"
#include "lock.h"
#include "plan.h"

static struct json_object *jstr(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

static struct json_object *jint(long long v)
{
	return json_object_new_int64(v);
}

static struct json_object *applied_rows(const struct hist *h, const struct mig_set *set)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < h->n; i++) {
		const struct hist_row *r = &h->v[i];
		const struct mig *m = set != NULL ? mig_set_find(set, r->version) : NULL;
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "version", jint(r->version));
		json_object_object_add(o, "name", jstr(r->name));
		json_object_object_add(o, "checksum", jstr(r->checksum));
		json_object_object_add(o, "applied_at", jstr(r->applied_at));
		json_object_object_add(o, "duration_ms", jint(r->duration_ms));
		json_object_object_add(o, "applied_by", jstr(r->applied_by));
		json_object_object_add(o, "dirty", json_object_new_boolean(r->dirty));
		json_object_object_add(o, "file", m != NULL ? jstr(m->up_file) : NULL);
		json_object_object_add(o, "drift", json_object_new_boolean(
							   m != NULL && strcmp(m->checksum, r->checksum) != 0));
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

static int add_runs(PGconn *c, const struct hist *h, struct json_object *rep, struct sg_err *err)
{
	char sql[1024];
	PGresult *r = NULL;
	struct json_object *arr = json_object_new_array();

	json_object_object_add(rep, "runs", arr);
	if (!h->exists)
		return 0;
	if (snprintf(sql, sizeof sql,
		 "SELECT id, command, identity, backend_pid, "
		 "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
		 "to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
		 "from_version, to_version, reached_version, "
		 /* A run whose process died after its last commit but before
		  * recording its end stays 'running' until the next lock holder
		  * marks it; shown as what it is without writing anything. */
		 "CASE WHEN outcome = 'running' AND NOT EXISTS (SELECT 1 FROM "
		 "pg_stat_activity a WHERE a.pid = backend_pid) THEN 'abandoned' "
		 "ELSE outcome END, error, fencing_token "
		 "FROM %s ORDER BY id DESC LIMIT 10",
		 h->qruns) >= (int)sizeof sql)
		return sg_err_set(err, SG_E_DB, "runs table name too long");
	if (db_query(c, sql, 0, NULL, &r, err) != 0)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		struct json_object *o = json_object_new_object();
		static const char *const names[] = { "id", "command", "identity", "backend_pid",
						     "started_at", "finished_at", "from_version",
						     "to_version", "reached_version", "outcome", "error",
						     "fencing_token" };
		for (int f = 0; f < 12; f++) {
			struct json_object *v = NULL;

			if (!PQgetisnull(r, i, f)) {
				const char *txt = PQgetvalue(r, i, f);
				bool numeric = f == 0 || f == 3 || (f >= 6 && f <= 8) || f == 11;

				v = numeric ? jint(strtoll(txt, NULL, 10)) : jstr(txt);
			}
			json_object_object_add(o, names[f], v);
		}
		json_object_array_add(arr, o);
	}
	PQclear(r);
	return 0;
}

/* Who holds the advisory lock: a bigint key shows in pg_locks as classid
 * (high 32 bits), objid (low 32 bits) and objsubid 1. */
static int add_lock(PGconn *c, int64_t key, struct json_object *rep, struct sg_err *err)
{
	static const char sql[] =
		"SELECT l.pid, a.application_name, "
		"to_char(coalesce(a.state_change, a.backend_start) AT TIME ZONE 'UTC', "
		"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
		"FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
		"WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
		"AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
		"AND l.classid::bigint = (($1::bigint >> 32) & 4294967295) "
		"AND l.objid::bigint = ($1::bigint & 4294967295)";
	char k[24];
	const char *params[1] = { k };
	PGresult *r = NULL;
	struct json_object *o = json_object_new_object();

	snprintf(k, sizeof k, "%lld", (long long)key);
	json_object_object_add(rep, "lock", o);
	json_object_object_add(o, "key", jint(key));
	if (db_query(c, sql, 1, params, &r, err) != 0)
		return -1;
	json_object_object_add(o, "held", json_object_new_boolean(PQntuples(r) > 0));
	if (PQntuples(r) > 0) {
		json_object_object_add(o, "pid", jint(strtoll(PQgetvalue(r, 0, 0), NULL, 10)));
		json_object_object_add(o, "application_name", jstr(PQgetvalue(r, 0, 1)));
		json_object_object_add(o, "since", jstr(PQgetvalue(r, 0, 2)));
	}
	PQclear(r);
	return 0;
}

/* The Redis lease, when election by Redis is configured: holder, time left,
 * last fencing token. Redis being down is reported, never fatal. */
static void add_lease(const struct cfg *cfg, int64_t key, struct json_object *rep)
{
	struct json_object *o;
	struct lease_info li;
	struct sg_err err = { SG_E_OK, "" };
	char name[64];

	if (cfg->redis_url == NULL) {
		json_object_object_add(rep, "lease", NULL);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(rep, "lease", o);
	lease_name(LEASE_KEY_PREFIX, key, name, sizeof name);
	json_object_object_add(o, "key", jstr(name));
	if (lease_peek(cfg, key, &li, &err) != 0) {
		json_object_object_add(o, "reachable", json_object_new_boolean(false));
		json_object_object_add(o, "error", jstr(err.msg));
		return;
	}
	json_object_object_add(o, "reachable", json_object_new_boolean(true));
	json_object_object_add(o, "held", json_object_new_boolean(li.holder[0] != '\0'));
	json_object_object_add(o, "holder", li.holder[0] != '\0' ? jstr(li.holder) : NULL);
	json_object_object_add(o, "remaining_ms", li.remaining_ms >= 0 ? jint(li.remaining_ms) : NULL);
	json_object_object_add(o, "fencing_token", li.fencing > 0 ? jint(li.fencing) : NULL);
}

int report_build(PGconn *c, const struct cfg *cfg, const struct mig_set *set,
		 struct json_object **out, struct sg_err *err)
{
	static const struct mig_set empty = { NULL, 0 };
	struct hist h = { 0 };
	struct plan p = { 0 };
	struct json_object *rep = NULL;
	char *schema = NULL, where[512];
	int rc = -1;

	*out = NULL;
	if (db_first_schema(cfg->search_path, &schema, err) != 0 ||
	    hist_read(c, schema, cfg->table, &h, err) != 0 ||
	    plan_make(set != NULL ? set : &empty, &h, cfg->target, &p, err) != 0)
		goto cleanup;
	rep = json_object_new_object();
	/* The verdict comes first: what migrate would do or refuse, computed by plan.c alone. */
	struct json_object *verdict = json_object_new_object();
	if (set != NULL) {
		struct plan_verdict v;

		plan_verdict(&p, &h, cfg->allow_drift, &v);
		json_object_object_add(verdict, "state", jstr(plan_state_name(v.state)));
		json_object_object_add(verdict, "refused", json_object_new_boolean(v.refused));
		json_object_object_add(verdict, "reason", jstr(v.reason));
	} else {
		json_object_object_add(verdict, "state", jstr("unknown"));
		json_object_object_add(verdict, "refused", json_object_new_boolean(false));
		json_object_object_add(verdict, "reason", jstr("the migrations folder is not readable"));
	}
	json_object_object_add(rep, "verdict", verdict);
	db_target(cfg, where, sizeof where);
	json_object_object_add(rep, "database", jstr(where));
	json_object_object_add(rep, "schema", jstr(h.schema));
	json_object_object_add(rep, "table", jstr(cfg->table));
	json_object_object_add(rep, "history_exists", json_object_new_boolean(h.exists));
	json_object_object_add(rep, "current_version", jint(p.head));
	json_object_object_add(rep, "target_version", set != NULL ? jint(p.target) : NULL);
	json_object_object_add(rep, "dirty", json_object_new_boolean(p.dirty != NULL));
	json_object_object_add(rep, "migrations_dir", jstr(cfg->dir));
	json_object_object_add(rep, "folder_readable", json_object_new_boolean(set != NULL));
	json_object_object_add(rep, "applied", applied_rows(&h, set));
	json_object_object_add(rep, "pending", mig_list(p.pending, p.npending, &h));
	json_object_object_add(rep, "drift", mig_list(p.drifted, p.ndrifted, &h));
	json_object_object_add(rep, "out_of_order", mig_list(p.out_of_order, p.nout_of_order, &h));
	struct json_object *missing = json_object_new_array();
	for (size_t i = 0; i < p.nmissing; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "version", jint(p.missing[i]->version));
		json_object_object_add(o, "name", jstr(p.missing[i]->name));
		json_object_array_add(missing, o);
	}
	json_object_object_add(rep, "missing", missing);
	int64_t key = lock_key(PQdb(c), h.schema, cfg->table);
	if (add_runs(c, &h, rep, err) != 0 || add_lock(c, key, rep, err) != 0)
		goto cleanup;
	add_lease(cfg, key, rep);
	*out = rep;
	rep = NULL;
	rc = 0;
cleanup:
	json_object_put(rep);
	plan_free(&p);
	hist_free(&h);
	free(schema);
	return rc;
}

int report_verdict(PGconn *c, const struct cfg *cfg, const struct mig_set *set,
		   struct plan_verdict *v, struct sg_err *err)
{
	struct hist h = { 0 };
	struct plan p = { 0 };
	char *schema = NULL;
	int rc = -1;

	if (db_first_schema(cfg->search_path, &schema, err) != 0 ||
	    hist_read(c, schema, cfg->table, &h, err) != 0 ||
	    plan_make(set, &h, cfg->target, &p, err) != 0)
		goto cleanup;
	plan_verdict(&p, &h, cfg->allow_drift, v);
	rc = 0;
cleanup:
	plan_free(&p);
	hist_free(&h);
	free(schema);
	return rc;
}

static const char *sget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return "-";
	return json_object_get_string(v);
}

static long long iget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) && v != NULL ? json_object_get_int64(v) : -1;
}

static bool bget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) && v != NULL && json_object_get_boolean(v);
}

static struct json_object *aget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* Writes s for a terminal: control characters (ESC included) and DEL, which a database row
 * may hold, become \xNN so they cannot move the cursor or recolor the screen. With width > 0
 * the text is cut to width characters (UTF-8 code points), the last one an ellipsis when
 * ellipsis is set, and padded with blanks to width when pad is set. */
static void put_text_cut(FILE *f, const char *s, size_t width, bool pad, bool ellipsis)
{
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

static void put_text(FILE *f, const char *s, size_t width, bool pad)
{
	put_text_cut(f, s, width, pad, true);
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

/* Digits of the widest version in the rows of arr (at least strlen("VERSION")). */
static int version_width(struct json_object *arr, int w)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		char buf[24];
		int n = snprintf(buf, sizeof buf, "%lld",
				 iget(json_object_array_get_idx(arr, i), "version"));

		if (n > w)
			w = n;
	}
	return w;
}

void report_print_text(FILE *f, struct json_object *rep)
{
	struct json_object *applied = aget(rep, "applied"), *pending = aget(rep, "pending");
	struct json_object *drift = aget(rep, "drift"), *missing = aget(rep, "missing");
	struct json_object *runs = aget(rep, "runs"), *lock = aget(rep, "lock");
	size_t na = json_object_array_length(applied), np = json_object_array_length(pending);
	int vw = version_width(pending, version_width(applied, (int)strlen("VERSION")));

	struct json_object *verdict = aget(rep, "verdict");

	fprintf(f, "verdict:    %s%s: ", bget(verdict, "refused") ? "REFUSED, " : "",
		sget(verdict, "state"));
	put_text(f, sget(verdict, "reason"), 0, false);
	fputs("\ndatabase:   ", f);
	put_text(f, sget(rep, "database"), 0, false);
	fputs("\nhistory:    ", f);
	put_text(f, sget(rep, "schema"), 0, false);
	fprintf(f, ".%s%s\n", sget(rep, "table"),
		bget(rep, "history_exists") ? "" : " (not created yet)");
	fprintf(f, "version:    %lld (target %s)%s\n", iget(rep, "current_version"),
		sget(rep, "target_version"), bget(rep, "dirty") ? "  DIRTY" : "");
	fprintf(f, "pending:    %zu   drift: %zu   missing files: %zu\n", np,
		json_object_array_length(drift), json_object_array_length(missing));
	if (bget(lock, "held")) {
		fprintf(f, "lock:       held by pid %lld (", iget(lock, "pid"));
		put_text(f, sget(lock, "application_name"), 0, false);
		fprintf(f, ") since %s\n", sget(lock, "since"));
	} else {
		fprintf(f, "lock:       free\n");
	}
	struct json_object *lease = aget(rep, "lease");
	if (lease != NULL && !bget(lease, "reachable")) {
		fprintf(f, "lease:      %s: Redis unreachable (", sget(lease, "key"));
		put_text(f, sget(lease, "error"), 0, false);
		fputs(")\n", f);
	} else if (lease != NULL && bget(lease, "held")) {
		fputs("lease:      held by ", f);
		put_text(f, sget(lease, "holder"), 0, false);
		fprintf(f, ", %lld ms left (fencing token %s)\n", iget(lease, "remaining_ms"),
			sget(lease, "fencing_token"));
	} else if (lease != NULL) {
		fprintf(f, "lease:      free (last fencing token %s)\n", sget(lease, "fencing_token"));
	}
	fprintf(f, "\n%-*s  %-32s  %-24s  %8s  %-20s  %-12s  %s\n", vw, "VERSION", "NAME",
		"APPLIED AT", "MS", "APPLIED BY", "CHECKSUM", "STATE");
	for (size_t i = 0; i < na; i++) {
		struct json_object *r = json_object_array_get_idx(applied, i);
		const char *state = bget(r, "dirty") ? "DIRTY"
				    : bget(r, "drift") ? "DRIFT"
				    : json_object_get_type(aget(r, "file")) == json_type_null
					    ? "applied (no file)"
				    : strncmp(sget(r, "applied_by"), "baseline ", 9) == 0 ? "baselined"
											  : "applied";

		fprintf(f, "%-*lld  ", vw, iget(r, "version"));
		cell(f, sget(r, "name"), 32);
		cell(f, sget(r, "applied_at"), 24);
		fprintf(f, "%8lld  ", iget(r, "duration_ms"));
		cell(f, sget(r, "applied_by"), 20);
		short_sum(f, sget(r, "checksum"));
		fprintf(f, "%s\n", state);
	}
	for (size_t i = 0; i < np; i++) {
		struct json_object *r = json_object_array_get_idx(pending, i);

		fprintf(f, "%-*lld  ", vw, iget(r, "version"));
		cell(f, sget(r, "name"), 32);
		fprintf(f, "%-24s  %8s  %-20s  %-12.12s  %s\n", "-", "-", "-",
			sget(r, "file_checksum"), "pending"); /* our own hex digest */
	}
	if (json_object_array_length(runs) > 0) {
		fprintf(f, "\nRECENT RUNS\n%-6s  %-8s  %-24s  %-20s  %-11s  %s\n", "ID", "COMMAND",
			"STARTED", "BY", "OUTCOME", "VERSIONS / ERROR");
		for (size_t i = 0; i < json_object_array_length(runs); i++) {
			struct json_object *r = json_object_array_get_idx(runs, i);

			fprintf(f, "%-6lld  ", iget(r, "id"));
			cell(f, sget(r, "command"), 8);
			cell(f, sget(r, "started_at"), 24);
			cell(f, sget(r, "identity"), 20);
			cell(f, sget(r, "outcome"), 11);
			fprintf(f, "%lld -> %lld", iget(r, "from_version"), iget(r, "reached_version"));
			if (json_object_get_type(aget(r, "error")) != json_type_null) {
				fputs("  ", f);
				put_text(f, sget(r, "error"), 0, false);
			}
			fputc('\n', f);
		}
	}
}
