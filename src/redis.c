/* redis.c - hiredis connections from a redis:// URL, with timeouts, AUTH and SELECT. */
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "num.h"
#include "secret.h"

int redis_url_parse(const char *url, struct redis_url *out, struct sg_err *err)
{
	struct redis_url u;
	const char *p, *auth_end, *host_end, *end;
	struct sg_err nerr;

	memset(&u, 0, sizeof u);
	u.port = 6379;
	if (url == NULL)
		return sg_err_set(err, SG_E_CONFIG, "Redis URL is not set");
	if (strncmp(url, "rediss://", 9) == 0)
		return sg_err_set(err, SG_E_CONFIG,
		                  "Redis URL: rediss:// (TLS) is not supported; use redis:// "
		                  "(e.g. through a TLS sidecar)");
	if (strncmp(url, "redis://", 8) != 0)
		return sg_err_set(err, SG_E_CONFIG, "Redis URL must start with redis://");
	p = url + 8;
	end = p + strcspn(p, "/?#");
	/* The last '@' before the path ends the credentials: an unencoded '@'
	 * in a password still parses. */
	auth_end = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			auth_end = q;
	if (auth_end != NULL) {
		const char *colon = memchr(p, ':', (size_t)(auth_end - p));
		size_t ulen = colon != NULL ? (size_t)(colon - p) : (size_t)(auth_end - p);

		if (colon == NULL) {
			/* redis://password@host is not valid: a bare userinfo is a user
			 * name, and Redis needs a password to go with it. */
			return sg_err_set(err, SG_E_CONFIG,
			                  "Redis URL: credentials must be [user]:password@");
		}
		if (num_pct_decode(p, ulen, u.user, sizeof u.user) != 0 ||
		    num_pct_decode(colon + 1, (size_t)(auth_end - colon - 1), u.password,
		                   sizeof u.password) != 0)
			return sg_err_set(err, SG_E_CONFIG,
			                  "Redis URL: user or password malformed or too long");
		p = auth_end + 1;
	}
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (rb == NULL)
			return sg_err_set(err, SG_E_CONFIG, "Redis URL: unterminated [ in host");
		if ((size_t)(rb - p - 1) >= sizeof u.host || rb == p + 1)
			return sg_err_set(err, SG_E_CONFIG, "Redis URL: bad host");
		memcpy(u.host, p + 1, (size_t)(rb - p - 1));
		host_end = rb + 1;
		if (host_end < end && *host_end != ':')
			return sg_err_set(err, SG_E_CONFIG, "Redis URL: bad host");
	} else {
		host_end = memchr(p, ':', (size_t)(end - p));
		if (host_end == NULL)
			host_end = end;
		if (host_end == p || (size_t)(host_end - p) >= sizeof u.host)
			return sg_err_set(err, SG_E_CONFIG, "Redis URL: missing or too long host");
		memcpy(u.host, p, (size_t)(host_end - p));
	}
	if (host_end < end && *host_end == ':') {
		char port[8];
		long v;
		size_t plen = (size_t)(end - host_end - 1);

		if (plen == 0 || plen >= sizeof port)
			return sg_err_set(err, SG_E_CONFIG, "Redis URL: bad port");
		memcpy(port, host_end + 1, plen);
		port[plen] = '\0';
		/* The text is not quoted: with an unencoded '/' or '?' in a
		 * password ("redis://u:se/cret@h") it is the password's head. */
		if (num_parse_long(port, 1, 65535, &v, &nerr) != 0)
			return sg_err_set(
			    err, SG_E_CONFIG,
			    "Redis URL: the port is not a number in 1..65535 (is a '/' "
			    "or '?' in the password not percent-encoded?)");
		u.port = (int)v;
	}
	if (*end == '/' && end[1] != '\0' && end[1] != '?' && end[1] != '#') {
		char db[24];
		size_t dlen = strcspn(end + 1, "?#");

		if (dlen >= sizeof db)
			return sg_err_set(err, SG_E_CONFIG, "Redis URL: bad database number");
		memcpy(db, end + 1, dlen);
		db[dlen] = '\0';
		if (num_parse_long(db, 0, 1000000, &u.db, &nerr) != 0)
			return sg_err_set(err, SG_E_CONFIG,
			                  "Redis URL: the database is not a number in 0..1000000");
	}
	*out = u;
	return 0;
}

bool redis_is_broken(const redisContext *c)
{
	return c == NULL || c->err != 0;
}

void redis_close(redisContext *c)
{
	if (c != NULL)
		redisFree(c);
}

int redis_command(redisContext *c, int argc, const char *const *argv, redisReply **out,
                  struct sg_err *err)
{
	size_t lens[8];
	redisReply *r;

	*out = NULL;
	if (argc <= 0 || (size_t)argc > sizeof lens / sizeof lens[0])
		return sg_err_set(err, SG_E_REDIS, "redis_command: bad argument count %d", argc);
	if (redis_is_broken(c))
		return sg_err_set(err, SG_E_REDIS, "Redis connection is broken");
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	/* hiredis takes char ** for historical reasons; it does not write. */
	r = redisCommandArgv(c, argc, (const char **)argv, lens);
	if (r == NULL)
		return sg_err_set(err, SG_E_REDIS, "Redis %s: %s", argv[0],
		                  c->errstr[0] != '\0' ? c->errstr : "no reply");
	if (r->type == REDIS_REPLY_ERROR) {
		/* AUTH errors do not echo the password, so the text is safe. */
		sg_err_set(err, SG_E_REDIS, "Redis %s: %.200s", argv[0],
		           r->str != NULL ? r->str : "");
		freeReplyObject(r);
		return -1;
	}
	*out = r;
	return 0;
}

int redis_connect(const struct cfg *cfg, redisContext **out, struct sg_err *err)
{
	struct redis_url u;
	long timeout_ms = cfg->redis_timeout_ms;
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	redisContext *c = NULL;
	redisReply *r = NULL;
	char *file_pw = NULL;
	int rc = -1;

	*out = NULL;
	memset(&u, 0, sizeof u);
	if (redis_url_parse(cfg->redis_url, &u, err) != 0)
		goto cleanup;
	/* Read at every connect, so a rotated Secret is picked up. */
	if (cfg->redis_password_file != NULL) {
		if (secret_read_file("REDIS_PASSWORD_FILE", cfg->redis_password_file,
		                     SECRET_TRIM_NEWLINE, &file_pw, NULL, err) != 0)
			goto cleanup;
		if (strlen(file_pw) >= sizeof u.password) {
			sg_err_set(err, SG_E_CONFIG, "REDIS_PASSWORD_FILE %s: password too long",
			           cfg->redis_password_file);
			goto cleanup;
		}
		memcpy(u.password, file_pw, strlen(file_pw) + 1);
	}
	c = redisConnectWithTimeout(u.host, u.port, tv);
	if (c == NULL || c->err) {
		sg_err_set(err, SG_E_REDIS, "connect to Redis at %s:%d: %s", u.host, u.port,
		           c != NULL ? c->errstr : "out of memory");
		goto cleanup;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		sg_err_set(err, SG_E_REDIS, "Redis at %s:%d: cannot set the timeout", u.host,
		           u.port);
		goto cleanup;
	}
	if (u.password[0] != '\0') {
		const char *a2[] = {"AUTH", u.password};
		const char *a3[] = {"AUTH", u.user, u.password};

		if (redis_command(c, u.user[0] != '\0' ? 3 : 2, u.user[0] != '\0' ? a3 : a2, &r,
		                  err) != 0)
			goto cleanup;
		freeReplyObject(r);
		r = NULL;
	}
	if (u.db != 0) {
		char db[24];
		const char *a[] = {"SELECT", db};

		snprintf(db, sizeof db, "%ld", u.db);
		if (redis_command(c, 2, a, &r, err) != 0)
			goto cleanup;
		freeReplyObject(r);
		r = NULL;
	}
	*out = c;
	c = NULL;
	rc = 0;
cleanup:
	/* The password lived on the stack only; wipe it before returning. */
	memset(u.password, 0, sizeof u.password);
	secret_free(file_pw);
	redis_close(c);
	return rc;
}
