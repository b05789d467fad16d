/* test_history.c - the pure parts of history.c: run outcomes and their names. */
#include <criterion/criterion.h>

#include "history.h"

/* Every outcome has one name, read back to itself; the table's spelling is fixed (the runs
 * table holds rows written by earlier versions). */
Test(history, outcome_names_round_trip)
{
	static const struct {
		enum run_outcome o;
		const char *name;
	} names[] = {
	    {RUN_RUNNING, "running"},         {RUN_SUCCEEDED, "succeeded"}, {RUN_FAILED, "failed"},
	    {RUN_INTERRUPTED, "interrupted"}, {RUN_ABANDONED, "abandoned"},
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		cr_expect_str_eq(hist_outcome_name(names[i].o), names[i].name);
		cr_expect_eq(hist_outcome_of(names[i].name), names[i].o, "%s", names[i].name);
	}
	cr_expect_str_eq(hist_outcome_name(RUN_NONE), "");
}

Test(history, unknown_outcomes_read_as_none)
{
	cr_expect_eq(hist_outcome_of(NULL), RUN_NONE);
	cr_expect_eq(hist_outcome_of(""), RUN_NONE);
	cr_expect_eq(hist_outcome_of("refused"), RUN_NONE);
	cr_expect_eq(hist_outcome_of("Failed"), RUN_NONE);
	cr_expect_str_eq(hist_outcome_name((enum run_outcome)99), "");
}
