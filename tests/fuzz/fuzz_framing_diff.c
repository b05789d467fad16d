/* fuzz_framing_diff.c - libFuzzer harness: every request head the gate would pass on, a real
 * civetweb (in this process, on loopback) parses to the same method, path, query, version and
 * header lines (lib_framing_diff.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib_framing_diff.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (framing_diff_start() != 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char why[4096];

	if (framing_diff_check((const char *)data, size, why, sizeof why) != NULL) {
		fprintf(stderr, "fuzz_framing_diff: %s\n", why);
		abort();
	}
	return 0;
}
