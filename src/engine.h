/* engine.h - migrate, down, force and baseline: the command flows under the advisory lock. */
#ifndef SCHEMAGATE_ENGINE_H
#define SCHEMAGATE_ENGINE_H

#include <stddef.h>

#include "config.h"
#include "err.h"

/* What a run did, for the caller's final log line and exit code. */
struct engine_result {
	long from_version; /* head before the run */
	long to_version;   /* head after the run */
	size_t applied;    /* migrations applied (or reverted, for down) */
	bool failed_soft;  /* a migration failed but fail_fast=false: exit 0, recorded */
	bool followed;     /* another replica did the work while this one waited */
};

/* Brings the database to cfg->target (default: the highest file version).
 * The no-op path (nothing pending) takes no lock and writes nothing. Errors:
 * SG_E_PARSE/SG_E_IO (folder), SG_E_UNREACHABLE, SG_E_TIMEOUT (lock),
 * SG_E_DIRTY/SG_E_DRIFT (refused), SG_E_MIGRATION (SQL failed; err names the
 * file, SQLSTATE, line and column), SG_E_STOPPED (signal). */
SG_MUSTCHECK int engine_migrate(const struct cfg *cfg, struct engine_result *res,
                                struct sg_err *err);

/* Reverts the newest applied migrations: cfg->down_steps of them, or all above
 * cfg->down_to when it is >= 0. Each down file runs as migrate runs an up file
 * (apply.h): in its own transaction with the deletion of its history row, or
 * statement by statement with its row marked dirty first, with the same lock
 * and statement timeouts and retries. */
SG_MUSTCHECK int engine_down(const struct cfg *cfg, struct engine_result *res, struct sg_err *err);

/* Declares `version` the clean head: rows above it are deleted, its row is
 * marked clean (or recorded from the file when absent); version 0 clears the
 * history. Runs no migration SQL. */
SG_MUSTCHECK int engine_force(const struct cfg *cfg, long version, struct engine_result *res,
                              struct sg_err *err);

/* Takes over a schema that something else built: records, without running them, the migrations
 * the database already has. With version > 0: every file up to version (which must be a file of
 * the folder). With cfg->baseline_from: the versions that tool's history table
 * (cfg->baseline_from_table, else the tool's default) lists; version is ignored. Rows carry the
 * files' checksums and applied_by "baseline by <identity>" (or "baseline from <tool> by ...");
 * rows already recorded are kept. Refused (SG_E_DRIFT) when the history holds a row above the
 * highest version to record or a listed version has no file; SG_E_DIRTY for a dirty row here or
 * a dirty foreign history. One transaction; an audit row with command "baseline". */
SG_MUSTCHECK int engine_baseline(const struct cfg *cfg, long version, struct engine_result *res,
                                 struct sg_err *err);

#endif /* SCHEMAGATE_ENGINE_H */
