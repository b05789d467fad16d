/* backoff.h - exponential backoff schedules (pure functions, unit-tested). */
#ifndef SCHEMAGATE_BACKOFF_H
#define SCHEMAGATE_BACKOFF_H

/* Delay before retry number `attempt` (1-based: the delay after the first
 * failure is base_ms): base_ms * 2^(attempt-1), capped at max_ms. With the
 * defaults (1s, 30s) the schedule is 1s, 2s, 4s, 8s, 16s, 30s, 30s, ... */
long backoff_delay_ms(long base_ms, long max_ms, unsigned attempt);

/* Full-jitter variant for polling a contended resource: a value in
 * [delay/2, delay] where delay = backoff_delay_ms(...). rnd is any random
 * 32-bit value (callers pass their own source so tests are repeatable). */
long backoff_jitter_ms(long base_ms, long max_ms, unsigned attempt, unsigned rnd);

#endif /* SCHEMAGATE_BACKOFF_H */
