/* impact.c - the report of `schemagate plan` (struct dryrun) as a table for terminals, as JSON
 * for tools and as markdown for a pull-request comment. */
#include "impact.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "num.h"
#include "pglock.h"
#include "report.h"
#include "safety.h"

/* ---- shared cells ---- */

static void blocks_cell(enum pglock_mode m, char *buf, size_t n)
{
	bool r = pglock_blocks_reads(m), w = pglock_blocks_writes(m), d = pglock_blocks_ddl(m);

	if (!r && !w && !d) {
		snprintf(buf, n, "-");
		return;
	}
	snprintf(buf, n, "%s%s%s%s%s", r ? "reads" : "", r && (w || d) ? ", " : "",
	         w ? "writes" : "", w && d ? ", " : "", d ? "DDL" : "");
}

static void lock_cell(const struct msr_rel *r, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s", pglock_name(r->held), r->documented ? " (documented)" : "");
}

static void size_cell(const struct dryrun *d, const struct msr_rel *r, char *buf, size_t n)
{
	char b[32];

	bool index = r->table != r->oid;

	/* An index is sized by its table, which matters only when it was rebuilt. */
	if (!d->has_target || (index && !r->rewritten))
		snprintf(buf, n, "-");
	else if (!r->size_known)
		snprintf(buf, n, "unknown");
	else {
		num_format_bytes(r->bytes, b, sizeof b);
		snprintf(buf, n, "%s%s, %lld rows", index ? "table: " : "", b, r->rows);
	}
}

static void estimate_cell(const struct dryrun *d, const struct msr_rel *r, char *buf, size_t n)
{
	long ms = -1;

	if (r->size_known && pglock_blocks_writes(r->held) && (r->rewritten || r->scanned))
		ms = safety_estimate_ms(&d->run, r->rewritten ? SAFETY_REWRITE : SAFETY_SCAN,
		                        r->bytes);
	if (ms < 0)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "~%.1f s", (double)ms / 1000.0);
}

static const char *file_of(const struct dryrun *d, const struct msr_stmt *s)
{
	return d->run.files[s->file].m->up_file;
}

/* ---- text ---- */

#define W_REL 32
#define W_LOCK 34
#define W_BLOCKS 19
#define W_SIZE 26

static void text_rel(FILE *f, const struct dryrun *d, const struct msr_rel *r)
{
	char lock[64], blk[32], size[64], est[32];

	lock_cell(r, lock, sizeof lock);
	blocks_cell(r->held, blk, sizeof blk);
	size_cell(d, r, size, sizeof size);
	estimate_cell(d, r, est, sizeof est);
	fputs("  ", f);
	report_put_text(f, r->name, W_REL, true);
	fprintf(f, "  %-*s  %-*s  %-7s  %-4s  %-*s  %s\n", W_LOCK, lock, W_BLOCKS, blk,
	        r->rewritten ? "yes" : "no", r->scanned ? "yes" : "no", W_SIZE, size, est);
}

static void text_finding(FILE *f, const struct safety_finding *x)
{
	fprintf(f, "  %s, %s: ", x->allowed ? "allowed by the file's directive" : "REFUSED",
	        safety_reason_name(x->reason));
	report_put_text(f, x->fact, 0, false);
	fputs("\n    safe pattern: ", f);
	report_put_text(f, x->advice, 0, false);
	fputc('\n', f);
}

static void text_time(FILE *f, const struct dryrun *d)
{
	long rest = d->total_ms - d->run.replay_ms - d->run.measure_ms - d->lookup_ms;

	fprintf(f,
	        "time: %.3f s: replaying %zu file%s %.3f s, measuring %zu statement%s %.3f s, "
	        "production sizes %.3f s, the rest %.3f s\n",
	        (double)d->total_ms / 1000.0, d->run.replayed, d->run.replayed == 1 ? "" : "s",
	        (double)d->run.replay_ms / 1000.0, d->run.nstmts, d->run.nstmts == 1 ? "" : "s",
	        (double)d->run.measure_ms / 1000.0, (double)d->lookup_ms / 1000.0,
	        (double)(rest > 0 ? rest : 0) / 1000.0);
}

void impact_print_text(FILE *f, const struct dryrun *d)
{
	const struct msr_run *run = &d->run;
	char limit[32], line[160];
	size_t k = 0;

	num_format_bytes(d->limits.max_bytes, limit, sizeof limit);
	fprintf(f, "schemagate plan: %zu statement%s in %zu pending file%s, rehearsed on ",
	        run->nstmts, run->nstmts == 1 ? "" : "s", d->run.nfiles,
	        d->run.nfiles == 1 ? "" : "s");
	report_put_text(f, d->dev, 0, false);
	fputs("\nproduction: ", f);
	if (d->has_target) {
		report_put_text(f, d->target, 0, false);
		fputs(" (sizes from pg_class, as of its last VACUUM or ANALYZE)\n", f);
	} else {
		fputs("none (no DATABASE_URL): every table counts as larger than the limit\n", f);
	}
	fprintf(
	    f, "limit: %s (MIGRATIONS_SAFETY_MAX_BYTES); applied head: %ld (%zu file%s replayed)\n",
	    limit, d->applied, run->replayed, run->replayed == 1 ? "" : "s");
	if (run->nstmts > 0)
		fprintf(f, "\n  %-*s  %-*s  %-*s  %-7s  %-4s  %-*s  %s\n", W_REL, "RELATION",
		        W_LOCK, "LOCK HELD", W_BLOCKS, "BLOCKS", "REWRITE", "SCAN", W_SIZE,
		        "PRODUCTION", "ESTIMATE");
	for (size_t si = 0; si < run->nstmts; si++) {
		const struct msr_stmt *s = &run->stmts[si];

		msr_stmt_line(s, line, sizeof line);
		report_put_text(f, file_of(d, s), 0, false);
		fprintf(f, ":%u: ", s->line);
		report_put_text(f, line, 0, false);
		fprintf(f, "  (%ld ms%s)\n", s->ms,
		        s->in_transaction ? "" : ", outside a transaction");
		if (s->nrels == 0)
			fputs("  (no relation of the previous release touched)\n", f);
		for (size_t i = 0; i < s->nrels; i++)
			text_rel(f, d, &s->rels[i]);
		for (size_t i = 0; i < s->changes.n; i++) {
			fprintf(
			    f, "  %s: ", safety_breaking(&s->changes.v[i]) ? "BREAKING" : "change");
			report_put_text(f, s->changes.v[i].what, 0, false);
			fputc('\n', f);
		}
		for (; k < d->verdict.n && d->verdict.v[k].stmt == si; k++)
			text_finding(f, &d->verdict.v[k]);
	}
	if (run->nstmts == 0)
		fputs("\nnothing pending\n", f);
	if (d->verdict.nrefused > 0)
		fprintf(f, "\nverdict: REFUSED: %zu finding%s refused (exit 5)\n",
		        d->verdict.nrefused, d->verdict.nrefused == 1 ? "" : "s");
	else
		fprintf(f, "\nverdict: ok: nothing refused%s\n",
		        d->verdict.n > 0 ? " (findings allowed by the files' directives)" : "");
	text_time(f, d);
}

/* ---- markdown ---- */

/* A table cell: pipes escaped, line breaks and control characters made blanks; in a code span
 * when code, with backticks made quotes (a span cannot hold its own delimiter). */
static void md_cell(FILE *f, const char *s, bool code)
{
	if (code)
		fputc('`', f);
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '|')
			fputs("\\|", f);
		else if (c < 0x20 || c == 0x7f)
			fputc(' ', f);
		else if (code && c == '`')
			fputc('\'', f);
		else if (!code && strchr("*_`<>[]\\", c) != NULL) {
			fputc('\\', f);
			fputc(c, f);
		} else
			fputc(c, f);
	}
	if (code)
		fputc('`', f);
}

void impact_print_markdown(FILE *f, const struct dryrun *d)
{
	const struct msr_run *run = &d->run;
	char limit[32], line[160];
	size_t k = 0;

	num_format_bytes(d->limits.max_bytes, limit, sizeof limit);
	if (d->verdict.nrefused > 0)
		fprintf(f, "### schemagate plan: %zu refused\n\n", d->verdict.nrefused);
	else
		fputs("### schemagate plan: nothing refused\n\n", f);
	fprintf(f,
	        "%zu statement%s in %zu pending file%s, rehearsed on a dev database after %zu "
	        "applied file%s. ",
	        run->nstmts, run->nstmts == 1 ? "" : "s", d->run.nfiles,
	        d->run.nfiles == 1 ? "" : "s", run->replayed, run->replayed == 1 ? "" : "s");
	if (d->has_target)
		fprintf(f, "Production sizes from pg_class (as of its last VACUUM or ANALYZE); ");
	else
		fprintf(f, "No production sizes (no `DATABASE_URL`): every table counts as larger "
		           "than the limit; ");
	fprintf(f, "limit %s.\n\n", limit);
	if (run->nstmts > 0)
		fputs(
		    "| | Statement | Relation | Lock held | Blocks | Rewrite | Scan | Production | "
		    "Estimate |\n|---|---|---|---|---|---|---|---|---|\n",
		    f);
	for (size_t si = 0; si < run->nstmts; si++) {
		const struct msr_stmt *s = &run->stmts[si];
		bool refused = false;

		for (size_t i = 0; i < d->verdict.n; i++)
			refused =
			    refused || (d->verdict.v[i].stmt == si && !d->verdict.v[i].allowed);
		msr_stmt_line(s, line, sizeof line);
		for (size_t i = 0; i == 0 || i < s->nrels; i++) {
			const struct msr_rel *r = i < s->nrels ? &s->rels[i] : NULL;
			char lock[64] = "-", blk[32] = "-", size[64] = "-", est[32] = "-";

			fprintf(f, "| %s | ", i > 0 ? "" : refused ? "**refused**" : "ok");
			if (i == 0) {
				char where[300];

				snprintf(where, sizeof where, "%s:%u", file_of(d, s), s->line);
				md_cell(f, where, true);
				fputc(' ', f);
				md_cell(f, line, true);
			}
			fputs(" | ", f);
			if (r != NULL) {
				lock_cell(r, lock, sizeof lock);
				blocks_cell(r->held, blk, sizeof blk);
				size_cell(d, r, size, sizeof size);
				estimate_cell(d, r, est, sizeof est);
				md_cell(f, r->name, false);
			} else {
				fputs("-", f);
			}
			fprintf(f, " | %s | %s | %s | %s | %s | %s |\n", lock, blk,
			        r != NULL && r->rewritten ? "yes" : "no",
			        r != NULL && r->scanned ? "yes" : "no", size, est);
		}
	}
	for (int allowed = 0; allowed < 2; allowed++) {
		bool head = false;

		for (k = 0; k < d->verdict.n; k++) {
			const struct safety_finding *x = &d->verdict.v[k];
			const struct msr_stmt *s = &run->stmts[x->stmt];
			char where[300];

			if (x->allowed != (allowed == 1))
				continue;
			if (!head)
				fputs(allowed ? "\n**Allowed by the files' directives**\n\n"
				              : "\n**Refused**\n\n",
				      f);
			head = true;
			snprintf(where, sizeof where, "%s:%u", file_of(d, s), s->line);
			fputs("- ", f);
			md_cell(f, where, true);
			fprintf(f, " (%s): ", safety_reason_name(x->reason));
			md_cell(f, x->fact, false);
			fputs(". *Safe pattern:* ", f);
			md_cell(f, x->advice, false);
			fputs(".\n", f);
		}
	}
	for (size_t si = 0, head = 0; si < run->nstmts; si++)
		for (size_t i = 0; i < run->stmts[si].changes.n; i++) {
			const struct cat_change *c = &run->stmts[si].changes.v[i];
			char where[300];

			if (!head++)
				fputs("\n**Changes for clients**\n\n", f);
			snprintf(where, sizeof where, "%s:%u", file_of(d, &run->stmts[si]),
			         run->stmts[si].line);
			fputs("- ", f);
			md_cell(f, where, true);
			fputs(safety_breaking(c) ? " **breaking**: " : ": ", f);
			md_cell(f, c->what, false);
			fputc('\n', f);
		}
	fprintf(f,
	        "\n<sub>Measured by PostgreSQL on the dev database: locks from pg_locks, rewrites "
	        "from relfilenode, scans from pg_stat_xact_user_tables, changes from the catalog. "
	        "Production sizes and times are estimates. plan took %.1f s (%.1f s "
	        "replaying).</sub>\n",
	        (double)d->total_ms / 1000.0, (double)run->replay_ms / 1000.0);
}

/* ---- JSON ---- */

static struct json_object *jstr(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

static struct json_object *rel_json(const struct dryrun *d, const struct msr_rel *r)
{
	struct json_object *o = json_object_new_object(), *b = json_object_new_object(), *p;
	char kind[2] = {r->kind, '\0'};
	long est = -1;

	json_object_object_add(o, "name", jstr(r->name));
	json_object_object_add(o, "kind", jstr(kind));
	json_object_object_add(o, "table", jstr(r->table_name));
	json_object_object_add(o, "lock_taken", jstr(pglock_name(r->taken)));
	json_object_object_add(o, "lock_held", jstr(pglock_name(r->held)));
	json_object_object_add(o, "lock_source", jstr(r->documented ? "documented" : "pg_locks"));
	json_object_object_add(b, "reads", json_object_new_boolean(pglock_blocks_reads(r->held)));
	json_object_object_add(b, "writes", json_object_new_boolean(pglock_blocks_writes(r->held)));
	json_object_object_add(b, "ddl", json_object_new_boolean(pglock_blocks_ddl(r->held)));
	json_object_object_add(o, "blocks", b);
	json_object_object_add(o, "rewritten", json_object_new_boolean(r->rewritten));
	json_object_object_add(o, "scanned", json_object_new_boolean(r->scanned));
	if (d->has_target && r->size_known) {
		p = json_object_new_object();
		json_object_object_add(p, "bytes", json_object_new_int64(r->bytes));
		json_object_object_add(p, "rows", json_object_new_int64(r->rows));
		if (pglock_blocks_writes(r->held) && (r->rewritten || r->scanned))
			est = safety_estimate_ms(
			    &d->run, r->rewritten ? SAFETY_REWRITE : SAFETY_SCAN, r->bytes);
		json_object_object_add(p, "estimate_ms",
		                       est >= 0 ? json_object_new_int64(est) : NULL);
		json_object_object_add(o, "production", p);
	} else {
		json_object_object_add(o, "production", NULL);
	}
	return o;
}

static struct json_object *finding_json(const struct safety_finding *x)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "reason", jstr(safety_reason_name(x->reason)));
	json_object_object_add(o, "refused", json_object_new_boolean(!x->allowed));
	json_object_object_add(o, "fact", jstr(x->fact));
	json_object_object_add(o, "advice", jstr(x->advice));
	json_object_object_add(o, "bytes", x->bytes >= 0 ? json_object_new_int64(x->bytes) : NULL);
	json_object_object_add(o, "estimate_ms",
	                       x->est_ms >= 0 ? json_object_new_int64(x->est_ms) : NULL);
	return o;
}

static struct json_object *stmt_json(const struct dryrun *d, size_t si)
{
	const struct msr_stmt *s = &d->run.stmts[si];
	struct json_object *o = json_object_new_object(), *a;

	json_object_object_add(o, "file", jstr(file_of(d, s)));
	json_object_object_add(o, "version",
	                       json_object_new_int64(d->run.files[s->file].m->version));
	json_object_object_add(o, "line", json_object_new_int64(s->line));
	json_object_object_add(o, "sql", jstr(s->sql));
	json_object_object_add(o, "in_transaction", json_object_new_boolean(s->in_transaction));
	json_object_object_add(o, "ms", json_object_new_int64(s->ms));
	a = json_object_new_array();
	for (size_t i = 0; i < s->nrels; i++)
		json_object_array_add(a, rel_json(d, &s->rels[i]));
	json_object_object_add(o, "relations", a);
	a = json_object_new_array();
	for (size_t i = 0; i < s->changes.n; i++) {
		const struct cat_change *c = &s->changes.v[i];
		struct json_object *x = json_object_new_object();

		json_object_object_add(x, "kind", jstr(cat_change_name(c->kind)));
		json_object_object_add(x, "what", jstr(c->what));
		json_object_object_add(x, "breaking", json_object_new_boolean(safety_breaking(c)));
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "changes", a);
	a = json_object_new_array();
	for (size_t i = 0; i < d->verdict.n; i++)
		if (d->verdict.v[i].stmt == si)
			json_object_array_add(a, finding_json(&d->verdict.v[i]));
	json_object_object_add(o, "findings", a);
	return o;
}

struct json_object *impact_to_json(const struct dryrun *d)
{
	struct json_object *o = json_object_new_object(), *v, *t, *a;

	if (o == NULL)
		return NULL;
	v = json_object_new_object();
	json_object_object_add(v, "refused", json_object_new_boolean(d->verdict.nrefused > 0));
	json_object_object_add(v, "refusals", json_object_new_int64((int64_t)d->verdict.nrefused));
	json_object_object_add(v, "findings", json_object_new_int64((int64_t)d->verdict.n));
	json_object_object_add(o, "verdict", v);
	json_object_object_add(o, "dev_database", jstr(d->dev));
	json_object_object_add(o, "production", d->has_target ? jstr(d->target) : NULL);
	json_object_object_add(o, "applied_version", json_object_new_int64(d->applied));
	json_object_object_add(o, "limit_bytes", json_object_new_int64(d->limits.max_bytes));
	json_object_object_add(o, "replayed_files",
	                       json_object_new_int64((int64_t)d->run.replayed));
	json_object_object_add(o, "pending_files", json_object_new_int64((int64_t)d->run.nfiles));
	t = json_object_new_object();
	json_object_object_add(t, "total", json_object_new_int64(d->total_ms));
	json_object_object_add(t, "replay", json_object_new_int64(d->run.replay_ms));
	json_object_object_add(t, "measure", json_object_new_int64(d->run.measure_ms));
	json_object_object_add(t, "production_sizes", json_object_new_int64(d->lookup_ms));
	json_object_object_add(o, "timing_ms", t);
	if (d->run.rewrite_rate > 0) {
		t = json_object_new_object();
		json_object_object_add(
		    t, "rewrite_bytes_per_s",
		    json_object_new_int64((int64_t)(d->run.rewrite_rate * 1000)));
		json_object_object_add(t, "scan_bytes_per_s",
		                       json_object_new_int64((int64_t)(d->run.scan_rate * 1000)));
		json_object_object_add(o, "local_rates", t);
	} else {
		json_object_object_add(o, "local_rates", NULL);
	}
	a = json_object_new_array();
	for (size_t si = 0; si < d->run.nstmts; si++)
		json_object_array_add(a, stmt_json(d, si));
	json_object_object_add(o, "statements", a);
	return o;
}
