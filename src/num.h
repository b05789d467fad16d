/* num.h - strict parsing of integers, durations and booleans from settings and arguments. */
#ifndef SCHEMAGATE_NUM_H
#define SCHEMAGATE_NUM_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Parses a base-10 integer in [min, max]. The whole string must be the number:
 * empty strings, leading blanks and trailing garbage ("80x") are errors.
 * Returns 0 and sets *out, or returns -1 with err (code SG_E_PARSE) saying why,
 * e.g. `"80x" is not an integer`; *out is untouched on failure. */
SG_MUSTCHECK int num_parse_long(const char *s, long min, long max, long *out, struct sg_err *err);

/* Parses a Go-style duration into milliseconds within [min_ms, max_ms]: a
 * sequence of decimal numbers, each with an optional fraction and a unit of
 * ms, s, m or h ("250ms", "1.5s", "10m", "1m30s"). A bare number is an error
 * (missing unit) except "0". Signs, blanks, values finer than a millisecond
 * ("1.5ms") and overflow are errors. Returns 0 and sets *out_ms, or -1 with
 * err (code SG_E_PARSE); *out_ms is untouched on failure. */
SG_MUSTCHECK int num_parse_duration_ms(const char *s, long min_ms, long max_ms, long *out_ms,
                                       struct sg_err *err);

/* Parses a size in bytes within [min, max]: a whole number with an optional unit, B, kB, MB,
 * GB or TB (multiples of 1024, as PostgreSQL reads memory settings) or KiB, MiB, GiB or TiB
 * ("0", "65536", "64MiB", "1GB"). Units are case sensitive; blanks, signs, fractions and
 * overflow are errors. Returns 0 and sets *out, or -1 with err (code SG_E_PARSE); *out is
 * untouched on failure. */
SG_MUSTCHECK int num_parse_bytes(const char *s, long min, long max, long *out, struct sg_err *err);

/* Formats a byte count for people, with one decimal from KiB on: "512 B", "1.5 KiB",
 * "64.0 MiB", "2.3 GiB". Always NUL-terminates when n > 0 (cut short if n is too small). */
void num_format_bytes(long long bytes, char *buf, size_t n);

/* Parses true/false/1/0/yes/no/on/off, ignoring case. Anything else, the empty
 * string included, is an error (code SG_E_PARSE); *out is untouched then. */
SG_MUSTCHECK int num_parse_bool(const char *s, bool *out, struct sg_err *err);

/* Formats ms as the parser reads it, dropping zero parts: "0s", "150ms",
 * "2.5s", "1m30s", "10m", "1h0.25s". Negative values get a leading "-".
 * Returns 0, or -1 when buf (n bytes) was too small: the text is then cut
 * short but still NUL-terminated (when n > 0). */
int num_format_duration(long ms, char *buf, size_t n);

/* Formats wall-clock seconds t as RFC 3339 in UTC, "2026-12-07T03:14:00Z" (21 bytes with
 * the NUL); the epoch when t cannot be converted. */
void num_format_rfc3339(long long t, char *buf, size_t n);

/* The value of one hex digit, or -1. */
int num_hex_digit(char c);

/* Copies s[0..len) into out (n bytes, NUL-terminated) decoding %XX escapes;
 * -1 when the result does not fit or an escape is malformed. */
int num_pct_decode(const char *s, size_t len, char *out, size_t n);

#endif /* SCHEMAGATE_NUM_H */
