/* commands.c - the migration subcommands: migrate, down, force, status, create, verify, plan. */
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "apply.h"
#include "db.h"
#include "dryrun.h"
#include "engine.h"
#include "impact.h"
#include "log.h"
#include "migrations.h"
#include "num.h"
#include "plan.h"
#include "report.h"
#include "tool.h"

static int no_positional(const char *cmd, int nrest, const char **rest, struct sg_err *err)
{
	if (nrest > 0)
		return sg_err_set(err, SG_E_USAGE, "%s takes no argument, got \"%s\"", cmd,
		                  rest[0]);
	return 0;
}

static void log_result(const char *msg, const struct engine_result *r)
{
	char from[24], to[24], n[24];

	hist_version_text(r->from_version, from);
	hist_version_text(r->to_version, to);
	snprintf(n, sizeof n, "%zu", r->applied);
	log_info(msg, "from", from, "to", to, "count", n, NULL);
}

int cmd_migrate(const struct cfg *cfg, int nrest, const char **rest, struct sg_err *err)
{
	struct engine_result r;
	char where[512];

	if (no_positional("migrate", nrest, rest, err) != 0)
		return -1;
	if (cfg->skip) {
		log_info("SKIP_MIGRATIONS is set: not touching the database", NULL);
		return 0;
	}
	db_target(cfg, where, sizeof where);
	log_info("migrate starting", "version", SCHEMAGATE_VERSION, "identity", cfg->identity,
	         "database", where, "dir", cfg->dir, NULL);
	if (engine_migrate(cfg, &r, err) != 0)
		return -1;
	if (r.failed_soft) {
		log_warn("migrate finished with a failed migration (fail_fast=false)", NULL);
	} else if (r.followed) {
		char from[24], to[24];

		/* Not "up to date from=0 to=346 count=0": this replica applied nothing, another
		 * one brought the database from..to while it waited. */
		hist_version_text(r.from_version, from);
		hist_version_text(r.to_version, to);
		log_info("another replica applied the migrations", "from", from, "to", to, NULL);
	} else
		log_result(r.applied > 0 ? "migrations complete" : "database is up to date", &r);
	return 0;
}

int cmd_down(const struct cfg *cfg, int nrest, const char **rest, struct sg_err *err)
{
	struct engine_result r;

	if (no_positional("down", nrest, rest, err) != 0)
		return -1;
	if (engine_down(cfg, &r, err) != 0)
		return -1;
	log_result("down complete", &r);
	return 0;
}

int cmd_force(const struct cfg *cfg, int nrest, const char **rest, struct sg_err *err)
{
	struct engine_result r;
	long version;

	if (nrest != 1)
		return sg_err_set(err, SG_E_USAGE, "force takes exactly one argument: VERSION");
	if (num_parse_long(rest[0], 0, 999999999999999999L, &version, err) != 0)
		return sg_err_set(err, SG_E_USAGE, "force VERSION: %.900s", err->msg);
	if (engine_force(cfg, version, &r, err) != 0)
		return -1;
	log_result("version forced", &r);
	return 0;
}

int cmd_baseline(const struct cfg *cfg, int nrest, const char **rest, struct sg_err *err)
{
	struct engine_result r;
	long version = -1;

	if (cfg->baseline_from == NULL && nrest != 1)
		return sg_err_set(
		    err, SG_E_USAGE,
		    "baseline takes one argument, VERSION, or --from " TOOL_NAMES_ALT);
	if (cfg->baseline_from != NULL && nrest > 0)
		return sg_err_set(err, SG_E_USAGE,
		                  "baseline --from reads the version from the other tool's table; "
		                  "drop \"%s\"",
		                  rest[0]);
	if (cfg->baseline_from == NULL && cfg->baseline_from_table != NULL)
		return sg_err_set(err, SG_E_USAGE, "--from-table needs --from");
	if (nrest == 1 && num_parse_long(rest[0], 0, 999999999999999999L, &version, err) != 0)
		return sg_err_set(err, SG_E_USAGE, "baseline VERSION: %.900s", err->msg);
	if (engine_baseline(cfg, version, &r, err) != 0)
		return -1;
	log_result("baseline recorded", &r);
	return 0;
}

int cmd_create(const struct cfg *cfg, int nrest, const char **rest, struct sg_err *err)
{
	char *up = NULL, *down = NULL;
	bool clock_behind = false;

	if (nrest != 1)
		return sg_err_set(err, SG_E_USAGE, "create takes exactly one argument: NAME");
	if (mig_create(cfg->dir, rest[0], time(NULL), &clock_behind, &up, &down, err) != 0)
		return -1;
	if (clock_behind)
		log_warn(
		    "the clock is at or behind the folder's newest timestamp version; took that "
		    "version + 1",
		    "file", up, NULL);
	printf("%s\n%s\n", up, down);
	free(up);
	free(down);
	return 0;
}

/* Writes o (NULL: out of memory) as JSON on stdout, and releases it. */
static int print_json_object(struct json_object *o, int flags, struct sg_err *err)
{
	const char *text = o != NULL ? json_object_to_json_string_ext(o, flags) : NULL;

	if (text == NULL) {
		json_object_put(o);
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	printf("%s\n", text);
	json_object_put(o);
	return 0;
}

/* Writes the report as JSON on stdout. */
static int print_json(const struct report *rep, int flags, struct sg_err *err)
{
	return print_json_object(report_to_json(rep), flags, err);
}

int cmd_status(const struct cfg *cfg, int nrest, const char **rest, struct sg_err *err)
{
	struct mig_set *set = NULL;
	struct report *rep = NULL;
	struct sg_err ferr = {.code = SG_E_OK};
	PGconn *c = NULL;
	int rc = -1;

	if (no_positional("status", nrest, rest, err) != 0)
		return -1;
	/* A missing, empty or broken folder is an error (exit 2), but the database side is still
	 * worth showing first: the verdict is "unknown" and says why. */
	(void)!mig_set_load(cfg->dir, MIG_DEFAULT_MAX_BYTES, MIG_NO_TEXT, &set, &ferr);
	if (db_connect(cfg, "status", &c, err) != 0 || report_build(c, cfg, set, &rep, err) != 0)
		goto cleanup;
	rep->folder_error = set == NULL ? ferr.msg : NULL;
	if (cfg->json) {
		if (print_json(rep, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE,
		               err) != 0)
			goto cleanup;
	} else {
		report_print_text(stdout, rep);
	}
	rc = 0;
cleanup:
	/* The folder's error wins: it is the user's to fix, whatever the database did. */
	if (set == NULL) {
		*err = ferr;
		rc = -1;
	}
	report_free(rep);
	if (c != NULL)
		PQfinish(c);
	mig_set_free(set);
	return rc;
}

/* Offline: names, duplicates, content and directives (by the loader), and every up and down
 * file passes apply_check, the check migrate and down make before they run a file: what
 * migrate and down would refuse, verify refuses first. */
static int verify_folder(const struct mig_set *set, struct sg_err *err)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct mig *m = &set->v[i];
		struct directives d = mig_up_directives(m);
		char *down = NULL;
		size_t len;

		if (apply_check(m->up_path, m->sql, m->sql_len, &d, err) != 0)
			return -1;
		if (m->down_path != NULL) {
			if (mig_read_down(m, &down, &len, &d, err) != 0)
				return -1;
			int rc = apply_check(m->down_path, down, len, &d, err);
			free(down);
			if (rc != 0)
				return -1;
		}
	}
	return 0;
}

/* The safety policy over the pending files, rehearsed on the dev database (verify --dev-url):
 * each finding logged, the first refusal returned (SG_E_UNSAFE, exit 5). */
static int verify_safety(const struct cfg *cfg, const struct mig_set *set, struct sg_err *err)
{
	struct dryrun *d = NULL;
	char n[24];
	int rc;

	if (dryrun_run(cfg, set, &d, err) != 0)
		return -1;
	for (size_t i = 0; i < d->verdict.n; i++) {
		const struct safety_finding *x = &d->verdict.v[i];
		const struct msr_stmt *s = &d->run.stmts[x->stmt];
		char where[320];

		snprintf(where, sizeof where, "%s:%u", d->run.files[s->file].m->up_path, s->line);
		if (x->allowed)
			log_info("allowed by the file's directive", "at", where, "reason",
			         safety_reason_name(x->reason), "fact", x->fact, NULL);
		else
			log_error("refused by the safety policy", "at", where, "reason",
			          safety_reason_name(x->reason), "fact", x->fact, "safe_pattern",
			          x->advice, NULL);
	}
	snprintf(n, sizeof n, "%zu", d->run.nstmts);
	if ((rc = safety_check(&d->run, &d->verdict, err)) == 0)
		log_info("the pending files pass the safety policy", "statements", n, NULL);
	dryrun_free(d);
	return rc;
}

/* verify --json when no database verdict is reached: the folder's side only, with the same
 * first key as the full report (verdict {state, refused, reason}). set NULL: the folder is
 * invalid and folder_error says why; else it is valid and no database is configured. */
static int print_folder_json(const struct cfg *cfg, const struct mig_set *set,
                             const char *folder_error, struct sg_err *err)
{
	struct json_object *o = json_object_new_object(), *v = json_object_new_object();
	int rc;

	if (o == NULL || v == NULL) {
		json_object_put(o);
		json_object_put(v);
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	json_object_object_add(v, "state",
	                       json_object_new_string(set != NULL ? "unknown" : "invalid"));
	json_object_object_add(v, "refused", json_object_new_boolean(set == NULL));
	json_object_object_add(
	    v, "reason",
	    json_object_new_string(set != NULL ? "no database configured: drift not checked"
	                                       : folder_error));
	json_object_object_add(o, "verdict", v);
	json_object_object_add(o, "database", NULL);
	json_object_object_add(o, "migrations_dir", json_object_new_string(cfg->dir));
	json_object_object_add(o, "folder_readable", json_object_new_boolean(set != NULL));
	json_object_object_add(o, "folder_error",
	                       set == NULL ? json_object_new_string(folder_error) : NULL);
	json_object_object_add(o, "files",
	                       set != NULL ? json_object_new_int64((int64_t)set->n) : NULL);
	rc = printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return rc < 0 ? sg_err_set(err, SG_E_IO, "write the report") : 0;
}

int cmd_verify(const struct cfg *cfg, int nrest, const char **rest, struct sg_err *err)
{
	struct mig_set *set = NULL;
	struct report *rep = NULL;
	struct plan_verdict v;
	PGconn *c = NULL;
	char n[24];
	int rc = -1;

	if (no_positional("verify", nrest, rest, err) != 0)
		return -1;
	if (mig_set_load(cfg->dir, MIG_DEFAULT_MAX_BYTES, MIG_CHECK_DOWN, &set, err) != 0 ||
	    verify_folder(set, err) != 0) {
		/* The folder's error stays the command's error, printed JSON or not. */
		if (cfg->json && err->code != SG_E_NOMEM) {
			struct sg_err jerr;

			mig_set_free(set);
			set = NULL;
			(void)!print_folder_json(cfg, NULL, err->msg, &jerr);
		}
		goto cleanup;
	}
	snprintf(n, sizeof n, "%zu", set->n);
	log_info("migrations folder is valid", "dir", cfg->dir, "files", n, NULL);
	if (cfg->database_url == NULL && getenv("PGHOST") == NULL && getenv("PGDATABASE") == NULL) {
		log_info("no database configured: drift not checked", NULL);
		if (cfg->json && print_folder_json(cfg, set, NULL, err) != 0)
			goto cleanup;
		rc = cfg->dev_url != NULL ? verify_safety(cfg, set, err) : 0;
		goto cleanup;
	}
	/* The verdict migrate would reach (plan_verdict): whatever migrate refuses, verify refuses.
	 */
	if (db_connect(cfg, "verify", &c, err) != 0 || report_verdict(c, cfg, set, &v, err) != 0)
		goto cleanup;
	if (cfg->json && (report_build(c, cfg, set, &rep, err) != 0 ||
	                  print_json(rep, JSON_C_TO_STRING_PRETTY, err) != 0))
		goto cleanup;
	if (v.refused) {
		sg_err_set(err, v.code, "%s", v.reason);
		goto cleanup;
	}
	log_info("the database agrees with the folder", "verdict", plan_state_name(v.state),
	         "reason", v.reason, NULL);
	if (cfg->dev_url != NULL && verify_safety(cfg, set, err) != 0)
		goto cleanup;
	rc = 0;
cleanup:
	report_free(rep);
	if (c != NULL)
		PQfinish(c);
	mig_set_free(set);
	return rc;
}

int cmd_plan(const struct cfg *cfg, int nrest, const char **rest, struct sg_err *err)
{
	struct mig_set *set = NULL;
	struct dryrun *d = NULL;
	int rc = -1;

	if (no_positional("plan", nrest, rest, err) != 0)
		return -1;
	if (cfg->json && cfg->markdown)
		return sg_err_set(err, SG_E_USAGE, "--json and --markdown exclude each other");
	/* What migrate and verify refuse offline, plan refuses before touching a database. */
	if (mig_set_load(cfg->dir, MIG_DEFAULT_MAX_BYTES, 0, &set, err) != 0 ||
	    verify_folder(set, err) != 0 || dryrun_run(cfg, set, &d, err) != 0)
		goto cleanup;
	if (cfg->json) {
		if (print_json_object(impact_to_json(d),
		                      JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE,
		                      err) != 0)
			goto cleanup;
	} else if (cfg->markdown) {
		impact_print_markdown(stdout, d);
	} else {
		impact_print_text(stdout, d);
	}
	fflush(stdout);
	rc = safety_check(&d->run, &d->verdict, err);
cleanup:
	dryrun_free(d);
	mig_set_free(set);
	return rc;
}
