/* dsn.h - hiding passwords in connection strings before they reach logs or messages. */
#ifndef SCHEMAGATE_DSN_H
#define SCHEMAGATE_DSN_H

#include <stddef.h>

/* Text that replaces every secret in dsn_redact()'s output. */
#define DSN_MASK "xxxxx"

/* Text written instead of an input that dsn_redact() cannot take apart safely. */
#define DSN_UNPARSABLE "[unparsable DSN]"

/* Copies dsn into out (n bytes) with every password replaced by DSN_MASK.
 * Understands
 *   - URLs of any scheme ("postgres://", "postgresql://", "redis://",
 *     "rediss://", ...): the password in user:password@ (also with several
 *     hosts, percent-encoding, or an unencoded '@', '?' or ':' in it) and the
 *     query parameters password= and sslpassword= (keys percent-decoded);
 *   - libpq keyword strings ("host=x password=secret", quoted values with
 *     backslash escapes as libpq reads them): the values of password and
 *     sslpassword, quotes included, and a dbname that itself looks like a
 *     connection string (libpq may expand it).
 * Anything it cannot parse the way libpq would (an unterminated quote, a
 * keyword without '=', an '@' in a URL path) becomes DSN_UNPARSABLE rather
 * than risking a leak. A NULL dsn gives "". The output is cut to fit n and is
 * always NUL-terminated when n > 0; cutting never exposes a masked byte.
 * Pure function: no allocation, thread-safe. */
void dsn_redact(const char *dsn, char *out, size_t n);

#endif /* SCHEMAGATE_DSN_H */
