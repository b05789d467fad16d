/* fuzz_config.c - libFuzzer harness: the YAML configuration loader (cfg_load --config FILE). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "config.h"

static char path[64];

/* No setting may come from the environment: only the file counts. */
static void clean_env(void)
{
	for (size_t i = 0; i < cfg_option_count(); i++)
		if (cfg_option_env(i) != NULL)
			unsetenv(cfg_option_env(i));
	unsetenv(CFG_CONFIG_ENV);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	clean_env();
	snprintf(path, sizeof path, "/tmp/sg-fuzz-config.%ld.yaml", (long)getpid());
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[] = {"--config", path, NULL};
	struct cfg c;
	struct sg_err err;
	bool help = false;
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		abort();
	if (fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	if (cfg_load(&c, 2, argv, NULL, NULL, &help, &err) == 0) {
		if (c.dir == NULL || c.table == NULL || c.listen == NULL)
			abort();
		cfg_free(&c);
	} else {
		static const char zero[sizeof c];

		if (memchr(err.msg, '\0', sizeof err.msg) == NULL || err.code == SG_E_OK)
			abort();
		/* On failure *cfg is zeroed (nothing to free, nothing leaked). */
		if (memcmp(&c, zero, sizeof c) != 0)
			abort();
	}
	unlink(path);
	return 0;
}
