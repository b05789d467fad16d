/* test_backoff.c - the retry schedules promised in the README. */
#include <criterion/criterion.h>

#include "backoff.h"

Test(backoff, default_connect_schedule_matches_reference_design)
{
	/* 1s, 2s, 4s, 8s, 16s, then 30s capped: the reference design's numbers. */
	static const long want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000};

	for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++)
		cr_expect_eq(backoff_delay_ms(1000, 30000, i + 1), want[i], "attempt %u", i + 1);
}

Test(backoff, millisecond_schedule_for_tests)
{
	cr_expect_eq(backoff_delay_ms(10, 50, 1), 10);
	cr_expect_eq(backoff_delay_ms(10, 50, 3), 40);
	cr_expect_eq(backoff_delay_ms(10, 50, 4), 50);
}

Test(backoff, never_overflows_for_huge_attempt_counts)
{
	cr_expect_eq(backoff_delay_ms(1000, 30000, 4000000000u), 30000);
	cr_expect_eq(backoff_delay_ms(1, 0x7fffffffL, 200), 0x7fffffffL);
}

Test(backoff, zero_attempt_or_base_is_no_delay)
{
	cr_expect_eq(backoff_delay_ms(1000, 30000, 0), 0);
	cr_expect_eq(backoff_delay_ms(0, 30000, 3), 0);
}

Test(backoff, jitter_stays_within_half_to_full_delay)
{
	for (unsigned attempt = 1; attempt < 10; attempt++) {
		long d = backoff_delay_ms(50, 1000, attempt);
		for (unsigned rnd = 0; rnd < 5000; rnd += 7) {
			long j = backoff_jitter_ms(50, 1000, attempt, rnd * 2654435761u);
			cr_assert(j >= d / 2 && j <= d, "attempt %u jitter %ld outside [%ld,%ld]",
			          attempt, j, d / 2, d);
		}
	}
}
