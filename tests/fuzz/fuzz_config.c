/*
 * tests/fuzz/fuzz_config.c — config_load_text on arbitrary bytes (no
 * file is written). Checks that refusal and errors agree and that an
 * accepted configuration is consistent.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "diag.h"
#include "fuzz.h"

#define FUZZ_NAME "/fuzz/geovip.yaml"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag *d = diag_new();
	FUZZ_CHECK(d != NULL);
	struct config *cfg = config_load_text((const char *)data, size,
					      FUZZ_NAME, d);
	// refused exactly when an error was reported, and each names the file
	FUZZ_CHECK((cfg == NULL) == (diag_errors(d) > 0));
	for (size_t i = 0; i < diag_count(d); i++)
		FUZZ_CHECK(strncmp(diag_message(d, i), FUZZ_NAME,
				   strlen(FUZZ_NAME)) == 0);
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
