/* fuzz_http.c - libFuzzer harness: the sidecar's own request parsing (query, check names, bearer
 * token, listen spec). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "health.h"
#include "hostport.h"
#include "http.h"

#define TOKEN "s3cret-admin-token"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct health_query q;
	struct health_result r[HEALTH_NCHECKS];
	char bad[80], body[4096], spec[64], port[8];
	struct sg_err err;
	int c;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	/* ?verbose&exclude=... */
	memset(&q, 0, sizeof q);
	q.only = -1;
	memset(bad, 'Q', sizeof bad);
	if (health_parse_query(s, &q, bad, sizeof bad) != 0 &&
	    memchr(bad, '\0', sizeof bad) == NULL)
		abort();
	for (int i = 0; i < HEALTH_NCHECKS; i++) {
		r[i].ok = (size + (size_t)i) % 3 != 0;
		snprintf(r[i].reason, sizeof r[i].reason, "%s", r[i].ok ? "" : "because");
		snprintf(r[i].brief, sizeof r[i].brief, "%s", r[i].ok ? "" : "because");
	}
	c = health_format_readyz(r, &q, body, sizeof body);
	if ((c != 200 && c != 503) || memchr(body, '\0', sizeof body) == NULL)
		abort();

	/* /readyz/<name> with the exact length given, not NUL-terminated. */
	c = health_check_lookup((const char *)data, size);
	if (c >= HEALTH_NCHECKS || c < -1 ||
	    (c >= 0 && (strlen(health_check_name((enum health_check)c)) != size ||
	                memcmp(health_check_name((enum health_check)c), data, size) != 0)))
		abort();

	/* Authorization: only "Bearer <token>" passes, the scheme in any case and
	 * one or more spaces after it (RFC 9110 section 11). */
	{
		size_t sp = 6;
		bool want = false;

		if (strlen(s) > 6 && strncasecmp(s, "bearer", 6) == 0) {
			while (s[sp] == ' ')
				sp++;
			want = sp > 6 && strcmp(s + sp, TOKEN) == 0;
		}

		if (http_bearer_ok(s, TOKEN, strlen(TOKEN)) != want)
			abort();
		if (http_bearer_ok(s, NULL, 0) || http_bearer_ok(NULL, TOKEN, strlen(TOKEN)))
			abort();
	}

	/* serve.listen values */
	memset(spec, 'Q', sizeof spec);
	memset(port, 'Q', sizeof port);
	if (hostport_split(s, spec, sizeof spec, port, sizeof port, &err) == 0 &&
	    (memchr(spec, '\0', sizeof spec) == NULL || strlen(port) == 0 ||
	     strspn(port, "0123456789") != strlen(port)))
		abort();
	free(s);
	return 0;
}
