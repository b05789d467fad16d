/* dsn.h - connection strings as text: hiding their passwords, taking out what libpq refuses. */
#ifndef SCHEMAGATE_DSN_H
#define SCHEMAGATE_DSN_H

#include <stdbool.h>
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

/* What dsn_split takes out of a postgres:// (or postgresql://) URL's query before libpq,
 * which refuses every parameter it does not know, sees it. */
struct dsn_split {
	char *url;             /* the URL without them: what libpq gets (malloc'd) */
	char *search_path;     /* Go drivers' search_path=a,b, percent-decoded; NULL when absent */
	char *dropped;         /* the names of the x-* (golang-migrate) and pool_* (pgx) parameters
	                        * taken out, percent-decoded, comma-separated, each cut to 64 bytes with
	                        * any byte but [A-Za-z0-9_.-] shown as '?'; NULL when none. Their
	                        * values are dropped unread: never logged, never kept (malloc'd) */
	bool migrations_table; /* golang-migrate's x-migrations-table was one of them */
};

/* Splits url as above. Keyword strings, URLs of other schemes and URLs without such parameters
 * come back unchanged (out->url a copy). SG_E_CONFIG on a malformed %-escape in search_path.
 * On failure out is empty; dsn_split_free (NULL-safe) frees it either way. */
SG_MUSTCHECK int dsn_split(const char *url, struct dsn_split *out, struct sg_err *err);
void dsn_split_free(struct dsn_split *s);

/* When libpq refuses the postgres:// URL url because of a query parameter, writes that
 * parameter's name (percent-decoded, shown as in dsn_split's dropped, cut to fit n > 0) to name
 * and returns true. Each key=value pair of the query is parsed alone by libpq, so the verdict is
 * libpq's own (which names it knows, "ssl=true" included). A part without '=' is never named: it
 * may be a value pasted in the wrong place. False when no single pair is refused. */
bool dsn_refused_param(const char *url, char *name, size_t n);

#endif /* SCHEMAGATE_DSN_H */
