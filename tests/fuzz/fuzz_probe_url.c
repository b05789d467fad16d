/* fuzz_probe_url.c - libFuzzer harness: probe_parse_url on arbitrary URLs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = malloc(size + 1);
	struct probe_url u;
	struct sg_err err;

	if (url == NULL)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	memset(&u, 'Q', sizeof u);
	if (probe_parse_url(url, &u, &err) == 0) {
		/* Every field is terminated, the path starts with '/', the port is digits. */
		if (memchr(u.host, '\0', sizeof u.host) == NULL ||
		    memchr(u.port, '\0', sizeof u.port) == NULL ||
		    memchr(u.path, '\0', sizeof u.path) == NULL || u.path[0] != '/' ||
		    u.port[0] == '\0' || strspn(u.port, "0123456789") != strlen(u.port))
			abort();
	} else if (err.code != SG_E_USAGE) {
		abort();
	}
	free(url);
	return 0;
}
