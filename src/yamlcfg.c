/* yamlcfg.c - the YAML syntax of the settings file: nested and dotted keys, lists, nulls,
 * duplicates and FILE:LINE:COL messages. Which keys exist and what they mean is config.c's. */
#include "yamlcfg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

/* Keys quoted in messages are cut to this many bytes. */
#define YAMLCFG_SHOW 64

/* One YAML file being read into a sink. */
struct yamlcfg_reader {
	yaml_parser_t parser;
	const char *file; /* as given, for messages */
	const struct yamlcfg_sink *sink;
	char **seen; /* dotted paths met so far (owned), to refuse duplicates */
	size_t nseen, capseen;
	struct sg_err *err;
};

/* Fills err with "FILE:LINE:COL: message" (libyaml marks are 0-based). */
static int y_error(struct yamlcfg_reader *y, yaml_mark_t m, const char *fmt, ...) SG_PRINTF(3, 4);

static int y_error(struct yamlcfg_reader *y, yaml_mark_t m, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	/* A cut message is still worth reporting. */
	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	return sg_err_set(y->err, SG_E_CONFIG, "%s:%zu:%zu: %s", y->file, m.line + 1, m.column + 1,
	                  msg);
}

/* yaml_parser_parse() turning a failure into err. The event is deleted on
 * failure (libyaml leaves it empty, so that is a no-op kept for symmetry). */
static int y_parse(struct yamlcfg_reader *y, yaml_event_t *ev)
{
	const yaml_parser_t *p = &y->parser;
	const char *problem;

	if (yaml_parser_parse(&y->parser, ev))
		return 0;
	yaml_event_delete(ev);
	problem = p->problem != NULL ? p->problem : "syntax error";
	if (p->error == YAML_MEMORY_ERROR)
		return sg_err_set(y->err, SG_E_NOMEM, "%s: out of memory reading YAML", y->file);
	if (p->error == YAML_READER_ERROR)
		return sg_err_set(y->err, SG_E_CONFIG, "%s: invalid YAML: %s at byte %zu", y->file,
		                  problem, p->problem_offset);
	if (p->context != NULL)
		return sg_err_set(y->err, SG_E_CONFIG,
		                  "%s:%zu:%zu: invalid YAML: %s (%s at %zu:%zu)", y->file,
		                  p->problem_mark.line + 1, p->problem_mark.column + 1, problem,
		                  p->context, p->context_mark.line + 1, p->context_mark.column + 1);
	return sg_err_set(y->err, SG_E_CONFIG, "%s:%zu:%zu: invalid YAML: %s", y->file,
	                  p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
}

/* A scalar's text, or NULL when it holds a NUL byte (C strings can't). */
static const char *y_text(const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;

	return strlen(s) == ev->data.scalar.length ? s : NULL;
}

/* Empty or null ("~", "null") plain scalars leave a setting alone, as an empty
 * environment variable does; charts often render "key:" with nothing after. */
static bool y_is_null(const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.length == 0)
		return true;
	return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
	        strcmp(s, "NULL") == 0);
}

/* Records path; a second sighting is an error at m. */
static int y_seen(struct yamlcfg_reader *y, const char *path, yaml_mark_t m)
{
	size_t i;

	for (i = 0; i < y->nseen; i++)
		if (strcmp(y->seen[i], path) == 0)
			return y_error(y, m, "duplicate key \"%s\"", path);
	if (y->nseen == y->capseen) {
		size_t cap = y->capseen == 0 ? 16 : 2 * y->capseen;
		char **grown = realloc(y->seen, cap * sizeof *grown);

		if (grown == NULL)
			return sg_err_set(y->err, SG_E_NOMEM, "out of memory");
		y->seen = grown;
		y->capseen = cap;
	}
	if ((y->seen[y->nseen] = strdup(path)) == NULL)
		return sg_err_set(y->err, SG_E_NOMEM, "out of memory");
	y->nseen++;
	return 0;
}

/* Stores val (read at mark m) at path, naming FILE:LINE:COL and the key on error. */
static int y_set(struct yamlcfg_reader *y, const char *path, yaml_mark_t m, const char *val)
{
	char where[512];
	int w = snprintf(where, sizeof where, "%s:%zu:%zu: %s", y->file, m.line + 1, m.column + 1,
	                 path);

	if (w < 0)
		where[0] = '\0'; /* a cut (very long file name) is fine, failure leaves "" */
	return y->sink->set(y->sink->ctx, path, val, where, y->err);
}

/* Reads the items of a list whose start event (at m) was just consumed and
 * stores them joined with commas. An empty list leaves the setting alone. */
static int y_list(struct yamlcfg_reader *y, const char *path, yaml_mark_t m)
{
	yaml_event_t ev;
	char *joined = NULL;
	size_t len = 0;
	int rc = -1;

	memset(&ev, 0, sizeof ev);
	for (;;) {
		const char *item;
		size_t ilen;
		char *grown;

		if (y_parse(y, &ev) != 0)
			goto cleanup;
		if (ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		if (ev.type != YAML_SCALAR_EVENT) {
			y_error(y, ev.start_mark, "%s: list items must be plain names", path);
			goto cleanup;
		}
		if ((item = y_text(&ev)) == NULL || *item == '\0') {
			y_error(y, ev.start_mark, "%s: empty list item", path);
			goto cleanup;
		}
		ilen = strlen(item);
		if (ilen > SIZE_MAX / 2 - len) {
			sg_err_set(y->err, SG_E_NOMEM, "out of memory");
			goto cleanup;
		}
		if ((grown = realloc(joined, len + ilen + 2)) == NULL) {
			sg_err_set(y->err, SG_E_NOMEM, "out of memory");
			goto cleanup;
		}
		joined = grown;
		if (len > 0)
			joined[len++] = ',';
		memcpy(joined + len, item, ilen + 1);
		len += ilen;
		yaml_event_delete(&ev);
	}
	if (joined != NULL && y_set(y, path, m, joined) != 0)
		goto cleanup;
	rc = 0;
cleanup:
	yaml_event_delete(&ev);
	free(joined);
	return rc;
}

/* Reads the pairs of a mapping whose start event was just consumed, through
 * its end event; prefix is its dotted path ("" at the top level). */
static int y_mapping(struct yamlcfg_reader *y, const char *prefix)
{
	yaml_event_t key, val;
	int rc = -1;

	memset(&key, 0, sizeof key);
	memset(&val, 0, sizeof val);
	for (;;) {
		char path[128];
		const char *k, *v;
		enum yamlcfg_kind kind;
		yaml_mark_t km;
		int w;

		if (y_parse(y, &key) != 0)
			goto cleanup;
		if (key.type == YAML_MAPPING_END_EVENT)
			break;
		km = key.start_mark;
		if (key.type != YAML_SCALAR_EVENT || (k = y_text(&key)) == NULL) {
			y_error(y, km, "keys must be plain names");
			goto cleanup;
		}
		w = *prefix != '\0' ? snprintf(path, sizeof path, "%s.%s", prefix, k)
		                    : snprintf(path, sizeof path, "%s", k);
		if (w < 0 || (size_t)w >= sizeof path) {
			y_error(y, km, "unknown key \"%.*s...\"", YAMLCFG_SHOW, path);
			goto cleanup;
		}
		yaml_event_delete(&key);
		if (y_seen(y, path, km) != 0)
			goto cleanup;
		if (y_parse(y, &val) != 0)
			goto cleanup;
		kind = y->sink->kind(y->sink->ctx, path);
		if (kind == YAMLCFG_UNKNOWN) {
			y_error(y, km, "unknown key \"%s\"", path);
			goto cleanup;
		}
		switch (val.type) {
		case YAML_SCALAR_EVENT:
			if (kind == YAMLCFG_SECTION) {
				y_error(y, val.start_mark, "%s: expected a mapping of settings",
				        path);
				goto cleanup;
			}
			if ((v = y_text(&val)) == NULL) {
				y_error(y, val.start_mark, "%s: value holds a NUL byte", path);
				goto cleanup;
			}
			if (!y_is_null(&val) && y_set(y, path, val.start_mark, v) != 0)
				goto cleanup;
			break;
		case YAML_MAPPING_START_EVENT:
			if (kind != YAMLCFG_SECTION) {
				y_error(y, val.start_mark, "%s: expected a value, not a mapping",
				        path);
				goto cleanup;
			}
			if (y_mapping(y, path) != 0)
				goto cleanup;
			break;
		case YAML_SEQUENCE_START_EVENT:
			if (kind == YAMLCFG_SECTION) {
				y_error(y, val.start_mark, "%s: expected a mapping of settings",
				        path);
				goto cleanup;
			}
			if (kind != YAMLCFG_LIST) {
				y_error(y, val.start_mark,
				        "%s: expected a single value, not a list", path);
				goto cleanup;
			}
			if (y_list(y, path, val.start_mark) != 0)
				goto cleanup;
			break;
		case YAML_ALIAS_EVENT:
			y_error(y, val.start_mark, "%s: aliases are not supported", path);
			goto cleanup;
		default:
			y_error(y, val.start_mark, "%s: unexpected YAML node", path);
			goto cleanup;
		}
		yaml_event_delete(&val);
	}
	rc = 0;
cleanup:
	yaml_event_delete(&key);
	yaml_event_delete(&val);
	return rc;
}

int yamlcfg_load(const char *file, const struct yamlcfg_sink *sink, struct sg_err *err)
{
	struct yamlcfg_reader y;
	struct stat st;
	yaml_event_t ev;
	FILE *f = NULL;
	bool parser_ready = false;
	int docs = 0, rc = -1;
	size_t i;

	memset(&y, 0, sizeof y);
	memset(&ev, 0, sizeof ev);
	y.file = file;
	y.sink = sink;
	y.err = err;
	if ((f = fopen(file, "rb")) == NULL) {
		sg_err_set(err, SG_E_CONFIG, "config file %s: %s", file, strerror(errno));
		goto cleanup;
	}
	/* fopen() opens a directory; reading it would fail with a vaguer message. */
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		sg_err_set(err, SG_E_CONFIG, "config file %s: %s", file, strerror(EISDIR));
		goto cleanup;
	}
	if (!yaml_parser_initialize(&y.parser)) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	parser_ready = true;
	yaml_parser_set_input_file(&y.parser, f);
	for (;;) {
		if (y_parse(&y, &ev) != 0)
			goto cleanup;
		if (ev.type == YAML_STREAM_END_EVENT)
			break;
		if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
			y_error(&y, ev.start_mark, "only one YAML document is allowed");
			goto cleanup;
		}
		if (ev.type == YAML_MAPPING_START_EVENT && y_mapping(&y, "") != 0)
			goto cleanup;
		if ((ev.type == YAML_SCALAR_EVENT && !y_is_null(&ev)) ||
		    ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_ALIAS_EVENT) {
			y_error(&y, ev.start_mark,
			        "expected a mapping of settings at the top level");
			goto cleanup;
		}
		yaml_event_delete(&ev);
	}
	rc = 0;
cleanup:
	yaml_event_delete(&ev);
	if (parser_ready)
		yaml_parser_delete(&y.parser);
	if (f != NULL)
		fclose(f);
	for (i = 0; i < y.nseen; i++)
		free(y.seen[i]);
	free(y.seen);
	return rc;
}
