/* test_plan.c - plan_make and plan_verdict: every verdict from a table of folders and histories. */
#include "plan.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "history.h"
#include "migrations.h"
#include "sgt_table.h"

/* One case. files and hist are comma lists of versions; in hist, a version followed by '*' is
 * dirty and by '!' was applied with another checksum than its file's (drift). A hist of
 * "~NAME" is no history table in a schema that holds NAME: a tool's history table when NAME
 * is a tool's name, else a table called NAME ("~": an empty schema); a '+' after it means
 * --allow-non-empty. */
struct plan_case {
	char files[32];
	char hist[32];
	long target; /* -1: the highest file */
	bool allow_drift;
	enum plan_state state;
	size_t npending, ndrifted, nmissing, nout_of_order;
	char reason[64]; /* a substring of the reason */
};

static void checksum_of(long version, char out[65])
{
	snprintf(out, 65, "%064ld", version);
}

/* Fills set from "1,2,3". */
static void make_set(const char *list, struct mig_set *set)
{
	char *copy = strdup(list), *save = NULL;

	set->v = calloc(16, sizeof *set->v);
	set->n = 0;
	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		struct mig *m = &set->v[set->n++];
		char buf[64];

		m->version = strtol(t, NULL, 10);
		snprintf(buf, sizeof buf, "%06ld_m.up.sql", m->version);
		m->name = strdup("m");
		m->up_file = strdup(buf);
		m->up_path = strdup(buf);
		checksum_of(m->version, m->checksum);
	}
	free(copy);
}

static void make_hist(const char *list, struct hist *h, bool *allow_non_empty)
{
	char *copy = strdup(list), *save = NULL;

	memset(h, 0, sizeof *h);
	*allow_non_empty = false;
	if (list[0] == '~') {
		size_t n = strlen(list + 1);

		*allow_non_empty = n > 0 && list[n] == '+';
		n -= *allow_non_empty;
		h->schema = strdup("app");
		if (n > 0)
			h->other_table = strndup(list + 1, n);
		for (size_t i = 0; i < TOOL_COUNT && h->other_table != NULL; i++)
			if (strcmp(tool_table[i].name, h->other_table) == 0) {
				h->other_tool = &tool_table[i];
				free(h->other_table);
				h->other_table = strdup(tool_table[i].table);
				break;
			}
		free(copy);
		return;
	}
	h->exists = true;
	h->v = calloc(16, sizeof *h->v);
	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		struct hist_row *r = &h->v[h->n++];
		char *end;

		r->version = strtol(t, &end, 10);
		r->name = "m"; /* hist_free frees hist.strings, which this history does not use */
		r->applied_at = "";
		r->applied_by = "";
		r->dirty = *end == '*';
		checksum_of(*end == '!' ? r->version + 1000 : r->version, r->checksum);
	}
	free(copy);
}

static struct plan_case verdicts_cases[] = {
    {"", "", -1, false, PLAN_UP_TO_DATE, 0, 0, 0, 0, "up to date, no version applied"},
    {"1,2", "", -1, false, PLAN_PENDING, 2, 0, 0, 0, "2 pending migrations, version none to 2"},
    {"1,2", "1", -1, false, PLAN_PENDING, 1, 0, 0, 0, "1 pending migration,"},
    {"1,2,3", "", 1, false, PLAN_PENDING, 1, 0, 0, 0, "version none to 1"},
    /* version 0 is a version: "none" is below it */
    {"0,1,2", "", -1, false, PLAN_PENDING, 3, 0, 0, 0, "3 pending migrations, version none"},
    {"0,1,2", "", 0, false, PLAN_PENDING, 1, 0, 0, 0, "1 pending migration, version none to 0"},
    {"0,1,2", "0", 0, false, PLAN_UP_TO_DATE, 0, 0, 0, 0, "up to date at version 0"},
    {"0,1,2", "0", -1, false, PLAN_PENDING, 2, 0, 0, 0, "version 0 to 2"},
    {"0,1,2", "1", -1, false, PLAN_OUT_OF_ORDER, 1, 0, 0, 1, "000000_m.up.sql (version 0)"},
    {"0,1", "0*", -1, false, PLAN_DIRTY, 1, 0, 0, 0, "migration 0 (m) is dirty"},
    {"1,2", "1,2", -1, false, PLAN_UP_TO_DATE, 0, 0, 0, 0, "up to date at version 2"},
    {"1,2", "1,2,3", -1, false, PLAN_UP_TO_DATE, 0, 0, 1, 0, "up to date at version 3"},
    {"1,2", "2", -1, false, PLAN_OUT_OF_ORDER, 0, 0, 0, 1, "000001_m.up.sql (version 1)"},
    {"1,2", "2", -1, true, PLAN_OUT_OF_ORDER, 0, 0, 0, 1, "baseline 2"},
    {"1,2", "1*", -1, false, PLAN_DIRTY, 1, 0, 0, 0, "migration 1 (m) is dirty"},
    {"1,2", "1!", -1, false, PLAN_DRIFT, 1, 1, 0, 0, "000001_m.up.sql was changed"},
    {"1,2", "1!", -1, true, PLAN_PENDING, 1, 1, 0, 0, "1 pending migration"},
    {"1,2,3", "1!,3", -1, false, PLAN_DRIFT, 0, 1, 0, 1, "was changed"},
    {"1,2,3", "1!,3*", -1, false, PLAN_DIRTY, 0, 1, 0, 1, "migration 3 (m) is dirty"},
    {"1,2,3", "1!,2!", -1, false, PLAN_DRIFT, 1, 2, 0, 0, "and other files too"},
    /* no history table: an empty schema is ours to fill, another's is refused */
    {"1,2", "~", -1, false, PLAN_PENDING, 2, 0, 0, 0, "2 pending migrations"},
    {"1,2", "~users", -1, false, PLAN_NON_EMPTY, 2, 0, 0, 0, "holds tables (users)"},
    {"1,2", "~users", -1, true, PLAN_NON_EMPTY, 2, 0, 0, 0, "--allow-non-empty"},
    {"1,2", "~users+", -1, false, PLAN_PENDING, 2, 0, 0, 0, "2 pending migrations"},
    {"1,2", "~golang-migrate", -1, false, PLAN_NON_EMPTY, 2, 0, 0, 0,
     "'schemagate baseline --from golang-migrate'"},
    {"1,2", "~dbmate", -1, false, PLAN_NON_EMPTY, 2, 0, 0, 0,
     "built by dbmate (its history table schema_migrations"},
    {"1,2", "~Flyway", -1, false, PLAN_NON_EMPTY, 2, 0, 0, 0,
     "files Flyway applied with 'schemagate baseline VERSION'"},
    {"1,2", "~Flyway+", -1, false, PLAN_PENDING, 2, 0, 0, 0, "2 pending migrations"},
};

static void check_verdicts(struct plan_case *c)
{
	struct mig_set set;
	struct hist h;
	struct plan p;
	struct plan_verdict v;
	struct sg_err err = {.code = SG_E_OK};
	bool allow_non_empty;
	int rc;

	make_set(c->files, &set);
	make_hist(c->hist, &h, &allow_non_empty);
	cr_assert_eq(plan_make(&set, &h, c->target, &p, &err), 0, "%s", err.msg);
	plan_verdict(&p, &h, (struct plan_allow){c->allow_drift, allow_non_empty}, &v);
	cr_expect_eq(v.state, c->state, "files %s hist %s: %s, want %s", c->files, c->hist,
	             plan_state_name(v.state), plan_state_name(c->state));
	cr_expect_eq(p.npending, c->npending, "files %s hist %s", c->files, c->hist);
	cr_expect_eq(p.ndrifted, c->ndrifted, "files %s hist %s", c->files, c->hist);
	cr_expect_eq(p.nmissing, c->nmissing, "files %s hist %s", c->files, c->hist);
	cr_expect_eq(p.nout_of_order, c->nout_of_order, "files %s hist %s", c->files, c->hist);
	cr_expect(strstr(v.reason, c->reason) != NULL, "files %s hist %s: %s", c->files, c->hist,
	          v.reason);
	/* plan_check is that verdict as an error, nothing more. */
	rc = plan_check(&p, &h, (struct plan_allow){c->allow_drift, allow_non_empty}, &err);
	cr_expect_eq(rc, v.refused ? -1 : 0);
	cr_expect_eq(v.refused, c->state == PLAN_DIRTY || c->state == PLAN_DRIFT ||
	                            c->state == PLAN_OUT_OF_ORDER || c->state == PLAN_NON_EMPTY);
	if (v.refused) {
		cr_expect_eq(err.code, c->state == PLAN_DIRTY ? SG_E_DIRTY : SG_E_DRIFT);
		cr_expect_str_eq(err.msg, v.reason);
	}
	plan_free(&p);
	hist_free(&h);
	for (size_t i = 0; i < set.n; i++) {
		free(set.v[i].name);
		free(set.v[i].up_file);
		free(set.v[i].up_path);
	}
	free(set.v);
}

SGT_TABLE_TEST(plan, verdicts, verdicts_cases, check_verdicts)

Test(plan, state_names)
{
	cr_expect_str_eq(plan_state_name(PLAN_UP_TO_DATE), "up-to-date");
	cr_expect_str_eq(plan_state_name(PLAN_PENDING), "pending");
	cr_expect_str_eq(plan_state_name(PLAN_DIRTY), "dirty");
	cr_expect_str_eq(plan_state_name(PLAN_DRIFT), "drift");
	cr_expect_str_eq(plan_state_name(PLAN_OUT_OF_ORDER), "out-of-order");
	cr_expect_str_eq(plan_state_name(PLAN_NON_EMPTY), "non-empty");
}
