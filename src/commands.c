/* commands.c - the migration subcommands: migrate, down, force, status, create, verify. */
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "db.h"
#include "engine.h"
#include "log.h"
#include "migrations.h"
#include "num.h"
#include "report.h"
#include "sqlsplit.h"

#define CMD_MAX_FILE_BYTES (64u * 1024u * 1024u)

static int no_positional(const char *cmd, int nrest, const char **rest, struct sg_err *err)
{
	if (nrest > 0)
		return sg_err_set(err, SG_E_USAGE, "%s takes no argument, got \"%s\"", cmd, rest[0]);
	return 0;
}

static void log_result(const char *msg, const struct engine_result *r)
{
	char from[24], to[24], n[24];

	snprintf(from, sizeof from, "%ld", r->from_version);
	snprintf(to, sizeof to, "%ld", r->to_version);
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
	if (r.failed_soft)
		log_warn("migrate finished with a failed migration (fail_fast=false)", NULL);
	else
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

int cmd_create(const struct cfg *cfg, int nrest, const char **rest, struct sg_err *err)
{
	char *up = NULL, *down = NULL;

	if (nrest != 1)
		return sg_err_set(err, SG_E_USAGE, "create takes exactly one argument: NAME");
	if (mig_create(cfg->dir, rest[0], &up, &down, err) != 0)
		return -1;
	printf("%s\n%s\n", up, down);
	free(up);
	free(down);
	return 0;
}

int cmd_status(const struct cfg *cfg, int nrest, const char **rest, struct sg_err *err)
{
	struct mig_set *set = NULL;
	struct json_object *rep = NULL;
	struct sg_err ferr;
	PGconn *c = NULL;
	int rc = -1;

	if (no_positional("status", nrest, rest, err) != 0)
		return -1;
	/* An unreadable folder still leaves the database side worth showing. */
	if (mig_set_load(cfg->dir, CMD_MAX_FILE_BYTES, MIG_ALLOW_MISSING | MIG_NO_TEXT, &set, &ferr) != 0)
		log_warn("migrations folder not usable; showing the database only", "error", ferr.msg,
			 NULL);
	if (db_connect(cfg, "status", &c, err) != 0 || report_build(c, cfg, set, &rep, err) != 0)
		goto cleanup;
	if (cfg->json)
		printf("%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY |
								       JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		report_print_text(stdout, rep);
	rc = 0;
cleanup:
	json_object_put(rep);
	if (c != NULL)
		PQfinish(c);
	mig_set_free(set);
	return rc;
}

/* Offline: names, duplicates, UTF-8, and every no-transaction file splits. */
static int verify_folder(const struct mig_set *set, struct sg_err *err)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct mig *m = &set->v[i];
		struct sql_stmts st = { NULL, 0 };
		char *down = NULL;
		size_t len;

		if (m->no_transaction && sqlsplit(m->sql, m->sql_len, &st, err) != 0)
			return sg_err_set(err, SG_E_PARSE, "%s: %.900s", m->up_path, err->msg);
		sqlsplit_free(&st);
		if (m->down_path != NULL) {
			if (mig_read_down(m, &down, &len, err) != 0)
				return -1;
			int bad = strncmp(down, "-- schemagate:no-transaction", 28) == 0 &&
				  sqlsplit(down, len, &st, err) != 0;
			free(down);
			sqlsplit_free(&st);
			if (bad)
				return sg_err_set(err, SG_E_PARSE, "%s: %.900s", m->down_path, err->msg);
		}
	}
	return 0;
}

int cmd_verify(const struct cfg *cfg, int nrest, const char **rest, struct sg_err *err)
{
	struct mig_set *set = NULL;
	struct json_object *rep = NULL, *drift = NULL, *dirty = NULL;
	PGconn *c = NULL;
	char n[24];
	int rc = -1;

	if (no_positional("verify", nrest, rest, err) != 0)
		return -1;
	if (mig_set_load(cfg->dir, CMD_MAX_FILE_BYTES, MIG_CHECK_DOWN, &set, err) != 0 ||
	    verify_folder(set, err) != 0)
		goto cleanup;
	snprintf(n, sizeof n, "%zu", set->n);
	log_info("migrations folder is valid", "dir", cfg->dir, "files", n, NULL);
	if (cfg->database_url == NULL && getenv("PGHOST") == NULL && getenv("PGDATABASE") == NULL) {
		log_info("no database configured: drift not checked", NULL);
		rc = 0;
		goto cleanup;
	}
	if (db_connect(cfg, "verify", &c, err) != 0 || report_build(c, cfg, set, &rep, err) != 0)
		goto cleanup;
	if (json_object_object_get_ex(rep, "dirty", &dirty) && json_object_get_boolean(dirty)) {
		sg_err_set(err, SG_E_DIRTY, "the database has a dirty migration (see schemagate status)");
		goto cleanup;
	}
	json_object_object_get_ex(rep, "drift", &drift);
	if (drift != NULL && json_object_array_length(drift) > 0) {
		struct json_object *d = json_object_array_get_idx(drift, 0), *f = NULL, *a = NULL,
				   *fc = NULL;

		json_object_object_get_ex(d, "file", &f);
		json_object_object_get_ex(d, "applied_checksum", &a);
		json_object_object_get_ex(d, "file_checksum", &fc);
		sg_err_set(err, SG_E_DRIFT, "%s/%s changed after it was applied (applied %s, file %s)",
			   cfg->dir, json_object_get_string(f), json_object_get_string(a),
			   json_object_get_string(fc));
		goto cleanup;
	}
	log_info("no drift between the folder and the database", NULL);
	rc = 0;
cleanup:
	if (rc == 0 && cfg->json && rep != NULL)
		printf("%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY));
	json_object_put(rep);
	if (c != NULL)
		PQfinish(c);
	mig_set_free(set);
	return rc;
}
