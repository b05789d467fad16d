/* fuzz_redis_url.c - libFuzzer harness: redis_url_parse, whose messages must never hold the
 * password. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = malloc(size + 1);
	struct redis_url u;
	struct sg_err err;

	if (url == NULL)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	memset(&u, 'Q', sizeof u);
	if (redis_url_parse(url, &u, &err) == 0) {
		if (memchr(u.host, '\0', sizeof u.host) == NULL ||
		    memchr(u.user, '\0', sizeof u.user) == NULL ||
		    memchr(u.password, '\0', sizeof u.password) == NULL || u.host[0] == '\0' ||
		    u.port < 1 || u.port > 65535 || u.db < 0)
			abort();
	} else {
		/* Messages must not quote any part of what the writer meant as the
		 * password: the text between the first ':' after "://" and the last
		 * '@' (whatever the parser makes of it when a '/' or '?' in it is
		 * not encoded). Differential check: mask that text (letters to 'Z';
		 * digits (port and database ranges), delimiters and %XX escapes
		 * kept, so the parse takes the same path)
		 * and the message must not change. */
		const char *auth = strstr(url, "://"), *at = strrchr(url, '@'), *colon;

		if (err.code == SG_E_OK || memchr(err.msg, '\0', sizeof err.msg) == NULL)
			abort();
		if (auth != NULL && at != NULL && at > auth &&
		    (colon = memchr(auth + 3, ':', (size_t)(at - auth - 3))) != NULL &&
		    at - colon > 4) {
			char *masked = strdup(url);
			struct redis_url u2;
			struct sg_err err2;

			if (masked == NULL)
				abort();
			for (char *q = masked + (colon + 1 - url); q < masked + (at - url); q++) {
				if (*q == '%') /* keep %XX escapes: their validity matters */
					q += q + 2 < masked + (at - url) ? 2 : 0;
				else if ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z'))
					*q = 'Z';
			}
			if (redis_url_parse(masked, &u2, &err2) != 0 &&
			    strcmp(err.msg, err2.msg) != 0) {
				fprintf(stderr, "password text in message:\n  %s\n  %s\n", err.msg,
				        err2.msg);
				abort();
			}
			free(masked);
		}
	}
	free(url);
	return 0;
}
