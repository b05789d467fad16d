/* yamlcfg.h - reads a YAML settings file as dotted key/value pairs; config.c gives them meaning. */
#ifndef SCHEMAGATE_YAMLCFG_H
#define SCHEMAGATE_YAMLCFG_H

#include "err.h"

/* What a dotted path ("database.url") names, as the caller's table knows it. */
enum yamlcfg_kind {
	YAMLCFG_UNKNOWN, /* no such key: an error naming it */
	YAMLCFG_SECTION, /* a mapping of settings ("database") */
	YAMLCFG_VALUE,   /* one scalar setting */
	YAMLCFG_LIST,    /* a setting that also takes a list of scalars, joined with commas */
};

/* Where the pairs go. kind() classifies a path; set() stores a value, where
 * being "FILE:LINE:COL: KEY" for its messages: it fills err and returns -1 to
 * refuse the value. */
struct yamlcfg_sink {
	enum yamlcfg_kind (*kind)(void *ctx, const char *path);
	int (*set)(void *ctx, const char *path, const char *val, const char *where,
	           struct sg_err *err);
	void *ctx;
};

/* Reads file: one document whose top level is a mapping of settings (or
 * nothing), with nested ("database:" then "url:") or dotted ("database.url:")
 * keys. Empty and null scalars leave a setting alone; duplicate keys, unknown
 * keys, aliases, lists where a single value belongs and NUL bytes are refused.
 * Errors are SG_E_CONFIG "FILE:LINE:COL: ..." (SG_E_NOMEM when out of memory);
 * values set before an error stay set, so the caller loads into a scratch copy. */
SG_MUSTCHECK int yamlcfg_load(const char *file, const struct yamlcfg_sink *sink,
                              struct sg_err *err);

#endif /* SCHEMAGATE_YAMLCFG_H */
