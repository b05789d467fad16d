/* sgt_table.h - table-driven Criterion tests that run in one process. */
#ifndef SCHEMAGATE_SGT_TABLE_H
#define SCHEMAGATE_SGT_TABLE_H

#include <stddef.h>

#include <criterion/criterion.h>

/*
 * SGT_TABLE_TEST(suite, name, cases, check) defines the test suite::name,
 * which calls check(&cases[i]) for every row of the array `cases`, in order.
 *
 * Criterion runs every test, and every parameter of a ParameterizedTest, in a
 * process of its own. Under AddressSanitizer a process costs about 0.2 s of
 * CPU; a row of these tables costs microseconds. One process per table keeps
 * the sanitizer build's unit run short. A failing assertion ends the test: its
 * message must name the row's input (every check does).
 */
#define SGT_TABLE_TEST(suite, name, cases, check)                                                  \
	Test(suite, name)                                                                          \
	{                                                                                          \
		for (size_t sgt_row_ = 0; sgt_row_ < sizeof(cases) / sizeof((cases)[0]);           \
		     sgt_row_++)                                                                   \
			check(&(cases)[sgt_row_]);                                                 \
	}

#endif
