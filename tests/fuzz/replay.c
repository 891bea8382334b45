/*
 * tests/fuzz/replay.c — a main() for fuzz targets built without libFuzzer:
 * feeds every file named on the command line (directories are read one
 * level deep) to LLVMFuzzerTestOneInput, so `make check` replays corpora.
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Replays one file; 0 on success, -1 when it cannot be read. */
static int replay_file(const char *path)
{
	int rc = -1;
	uint8_t *data = NULL;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		goto out;
	struct stat st;
	if (fstat(fileno(f), &st) < 0)
		goto out;
	size_t size = (size_t)st.st_size;
	// one extra byte so that an empty file still gets a valid pointer
	data = malloc(size + 1);
	if (data == NULL || fread(data, 1, size, f) != size)
		goto out;
	LLVMFuzzerTestOneInput(data, size);
	rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
	free(data);
	if (f != NULL)
		fclose(f);
	return rc;
}

/* Replays every regular file in dir, in name order (reproducible runs;
 * alphasort is strcmp order, as nothing here calls setlocale). */
static int replay_dir(const char *dir, unsigned *count)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "%s: cannot read: %s\n", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		if (list[i]->d_name[0] != '.' && stat(path, &st) == 0 &&
		    S_ISREG(st.st_mode)) {
			if (replay_file(path) < 0)
				rc = -1;
			else
				(*count)++;
		}
		free(list[i]);
	}
	free(list);
	return rc;
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);

	const char *fallback[] = { NULL, NULL };
	char **paths = argv + 1;
	int path_count = argc - 1;
#ifdef REPLAY_CORPUS
	// run by `make check` without arguments: replay the target's own corpus
	if (path_count == 0) {
		fallback[0] = REPLAY_CORPUS;
		paths = (char **)fallback;
		path_count = 1;
	}
#endif
	if (path_count == 0) {
		fprintf(stderr, "usage: %s FILE-OR-DIR...\n", argv[0]);
		return 2;
	}

	unsigned count = 0;
	int rc = 0;
	for (int i = 0; i < path_count; i++) {
		struct stat st;
		if (stat(paths[i], &st) < 0) {
			fprintf(stderr, "%s: %s\n", paths[i], strerror(errno));
			rc = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (replay_dir(paths[i], &count) < 0)
				rc = 1;
		} else if (replay_file(paths[i]) < 0) {
			rc = 1;
		} else {
			count++;
		}
	}
	printf("%u inputs replayed\n", count);
	// an empty corpus is a mistake (a wrong path), not a pass
	return rc != 0 || count == 0 ? 1 : 0;
}
