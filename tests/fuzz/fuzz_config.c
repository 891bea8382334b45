/*
 * tests/fuzz/fuzz_config.c — config_load on arbitrary file contents,
 * written to a per-process directory under /tmp that is reused for every
 * input and removed at exit. Checks that refusal and errors agree.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "diag.h"
#include "fuzz.h"

static char dir[64];
static char path[96];

static void fuzz_config_cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(dir, sizeof(dir), "/tmp/geovip-fuzz-config.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/geovip.yaml", dir);
	atexit(fuzz_config_cleanup);
	return 0;
}

static void fuzz_config_write(const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_config_write(data, size);
	struct diag *d = diag_new();
	FUZZ_CHECK(d != NULL);
	struct config *cfg = config_load(path, d);
	// refused exactly when an error was reported, and each names the file
	FUZZ_CHECK((cfg == NULL) == (diag_errors(d) > 0));
	for (size_t i = 0; i < diag_count(d); i++)
		FUZZ_CHECK(strncmp(diag_message(d, i), path,
				   strlen(path)) == 0);
	if (cfg != NULL) {
		FUZZ_CHECK(cfg->region_count > 0);
		FUZZ_CHECK(cfg->default_region >= 0 &&
			   (size_t)cfg->default_region < cfg->region_count);
		for (size_t i = 0; i < cfg->region_count; i++)
			FUZZ_CHECK(config_region_index(cfg,
				   cfg->regions[i].name) == (int)i);
		config_free(cfg);
	}
	diag_free(d);
	return 0;
}
