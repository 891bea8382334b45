/*
 * src/file.h — reading an operator's file safely: only regular files
 * (a FIFO or a device must never block a load), with a size cap, into a
 * private copy that later changes on disk cannot affect.
 */
#ifndef GEOVIP_FILE_H
#define GEOVIP_FILE_H

#include <stddef.h>

/** Failure codes beyond errno's, returned negated like errno values. */
enum {
	FILE_ERR_NOT_REGULAR = 10001, /* FIFO, socket, device, directory */
	FILE_ERR_TOO_LARGE = 10002,   /* larger than the caller's cap */
	FILE_ERR_CHANGED = 10003,     /* shrank or grew while being read */
};

/**
 * Reads the whole regular file at path into a new buffer with a NUL
 * after its last byte (so text parsers may stop there). Returns 0 and
 * sets *data (free() it) and *len, or a negative code for file_strerror:
 * -errno, or -FILE_ERR_*. The file is opened O_NONBLOCK, so a FIFO is
 * refused instead of waited on. Files larger than max bytes are refused.
 */
int file_read(const char *path, size_t max, char **data, size_t *len);

/** Opens path for reading if it is a regular file: a descriptor, or a
 *  negative code as file_read returns. */
int file_open_regular(const char *path);

/** A plain-words reason for a code from file_read/file_open_regular. */
const char *file_strerror(int code);

#endif
