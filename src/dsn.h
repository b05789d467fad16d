/* dsn.h - connection strings as text: hiding their passwords, taking out a Go-style search_path. */
#ifndef SCHEMAGATE_DSN_H
#define SCHEMAGATE_DSN_H

#include <stddef.h>

#include "err.h"

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

/* Go drivers accept "search_path=a,b" in a postgres:// URL's query, and the
 * reference deployments use it; libpq rejects unknown URL parameters. Splits
 * it out: *url_out is url without that parameter (malloc'd copy), *sp_out its
 * percent-decoded value or NULL. Keyword strings and URLs without it come back
 * unchanged. SG_E_CONFIG on a malformed %-escape. */
SG_MUSTCHECK int dsn_split_search_path(const char *url, char **url_out, char **sp_out,
                                       struct sg_err *err);

#endif /* SCHEMAGATE_DSN_H */
