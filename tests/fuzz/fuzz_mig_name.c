/* fuzz_mig_name.c - libFuzzer harness: migration file names through mig_parse_name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrations.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1);
	char *desc = NULL;
	long version = -7;
	enum mig_kind kind = MIG_UP;
	struct sg_err err;
	int rc;

	if (name == NULL)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	rc = mig_parse_name(name, &version, &kind, &desc, &err);
	if (rc == 1) {
		/* A parsed name has a version of 0 or more (0 is a version), a known kind and a
		 * non-empty description that the name contains. */
		if (version < 0 || (kind != MIG_UP && kind != MIG_DOWN) || desc == NULL ||
		    desc[0] == '\0' || strstr(name, desc) == NULL)
			abort();
	} else if (rc == -1) {
		if (err.code != SG_E_PARSE || memchr(err.msg, '\0', sizeof err.msg) == NULL)
			abort();
	} else if (rc != 0) {
		abort();
	}
	free(desc);
	free(name);
	return 0;
}
