/* backoff.c - exponential backoff schedules. */
#include "backoff.h"

long backoff_delay_ms(long base_ms, long max_ms, unsigned attempt)
{
	long d = base_ms;

	if (attempt == 0 || base_ms <= 0)
		return 0;
	for (unsigned i = 1; i < attempt; i++) {
		if (d >= max_ms / 2) /* doubling again would pass the cap (or overflow) */
			return max_ms;
		d *= 2;
	}
	return d < max_ms ? d : max_ms;
}

long backoff_jitter_ms(long base_ms, long max_ms, unsigned attempt, unsigned rnd)
{
	long d = backoff_delay_ms(base_ms, max_ms, attempt);
	long half = d / 2;

	if (half <= 0)
		return d;
	return half + (long)(rnd % (unsigned long)(d - half + 1));
}
