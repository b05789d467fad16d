/* test_db.c - the pure parts of db.c: search_path SQL, quoting, URL search_path, and which
 * errors are the environment's. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>

#include "db.h"

Test(db, search_path_sql_quotes_every_schema)
{
	char *sql = NULL;
	struct sg_err err;

	cr_assert_eq(db_search_path_sql(" mcp , public,a\"b;c ", &sql, &err), 0);
	cr_expect_str_eq(sql, "SET search_path TO \"mcp\", \"public\", \"a\"\"b;c\"");
	free(sql);
	cr_assert_eq(db_search_path_sql(NULL, &sql, &err), 0);
	cr_expect_null(sql);
}

Test(db, first_schema_is_trimmed_and_unquoted)
{
	char *first = NULL;
	struct sg_err err;

	cr_assert_eq(db_first_schema("  mcp ,public", &first, &err), 0);
	cr_expect_str_eq(first, "mcp");
	free(first);
}

/* A name written with its quotes is not quoted a second time (that would
 * name a schema with quotes in its name: "\"My Schema\""). */
Test(db, quoted_search_path_entry_is_quoted_once)
{
	struct sg_err err;
	char *sql = NULL, *first = NULL;

	cr_assert_eq(db_search_path_sql("\"My Schema\", public", &sql, &err), 0);
	cr_expect_str_eq(sql, "SET search_path TO \"My Schema\", \"public\"");
	free(sql);
	cr_assert_eq(db_first_schema(" \"My Schema\" ,public", &first, &err), 0);
	cr_expect_str_eq(first, "My Schema");
	free(first);
}

/* ---- what an error's cause says: the environment, or the user's SQL ---- */

struct cause_case {
	const char *sqlstate;
	bool conn_lost;
	bool infrastructure;
};

static const struct cause_case cause_cases[] = {
    {"08000", false, true},  /* connection_exception */
    {"08006", false, true},  /* connection_failure */
    {"08P01", false, true},  /* protocol_violation: still the connection's class */
    {"57P01", false, true},  /* admin_shutdown */
    {"57P02", false, true},  /* crash_shutdown */
    {"57P03", false, true},  /* cannot_connect_now */
    {"25006", false, true},  /* read_only_sql_transaction: a standby after a switchover */
    {"", true, true},        /* libpq lost the connection, no SQLSTATE */
    {"42P01", true, true},   /* whatever the server said, a lost connection is the cause */
    {"", false, false},      /* no cause known: not the environment */
    {"42601", false, false}, /* syntax_error: the user's SQL */
    {"42P01", false, false}, /* undefined_table */
    {"55P03", false, false}, /* lock_not_available: retried by its own rule, not this one */
    {"57014", false, false}, /* query_canceled: statement_timeout, the user's budget */
    {"57P04", false, false}, /* database_dropped: nothing to reconnect to */
    {"25P02", false, false}, /* in_failed_sql_transaction */
    {"0", false, false},     /* malformed: not class 08 by accident */
    {"58030", false, false}, /* io_error: the server's disk, not our connection */
};

Test(db, infrastructure_errors_are_the_connection_and_server_state)
{
	for (size_t i = 0; i < sizeof cause_cases / sizeof cause_cases[0]; i++) {
		const struct cause_case *c = &cause_cases[i];
		struct sg_err e;

		sg_err_set(&e, SG_E_DB, "x");
		snprintf(e.sqlstate, sizeof e.sqlstate, "%s", c->sqlstate);
		e.conn_lost = c->conn_lost;
		cr_expect_eq(db_err_is_infrastructure(&e), c->infrastructure, "%s lost=%d",
		             c->sqlstate, c->conn_lost);
	}
}

Test(db, infrastructure_of_nothing_is_false)
{
	cr_expect_not(db_err_is_infrastructure(NULL));
}

/* Without a result and without a connection, the cause is a lost connection: what a caller sees
 * when libpq could not even send. */
Test(db, cause_without_result_or_connection_is_a_lost_connection)
{
	struct sg_err e;

	sg_err_set(&e, SG_E_DB, "x");
	cr_expect_eq(db_err_cause(&e, NULL, NULL), -1);
	cr_expect_str_eq(e.sqlstate, "");
	cr_expect(e.conn_lost);
	cr_expect(db_err_is_infrastructure(&e));
	cr_expect_eq(db_err_cause(NULL, NULL, NULL), -1);
}
