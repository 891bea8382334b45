/*
 * tests/fuzz/fuzz.h — the libFuzzer entry points every target defines, so
 * the same file links either with libFuzzer (clang -fsanitize=fuzzer) or
 * with replay.c (any compiler) to replay a corpus in `make check`.
 */
#ifndef GEOVIP_FUZZ_H
#define GEOVIP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/** Runs one input; returns 0 (libFuzzer reserves other values). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/** Optional one-time set-up; replay.c calls it when a target defines it. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/** Reports a broken invariant and aborts, so libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                    \
	do {                                                                \
		if (!(cond))                                                \
			fuzz_fail(__FILE__, __LINE__, #cond);               \
	} while (0)

__attribute__((noreturn, unused)) static void
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant violated: %s\n", file, line, what);
	abort();
}

#endif
