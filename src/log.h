/* log.h - one structured event per line on stderr: JSON (default) or text for people. */
#ifndef SCHEMAGATE_LOG_H
#define SCHEMAGATE_LOG_H

#include <stdbool.h>

#include "config.h"

/* Sets format and threshold; may be called again (e.g. once config is loaded).
 * Not thread-safe against concurrent log calls: call before starting threads. */
void log_setup(enum cfg_log_format format, enum cfg_log_level level);

/* True when an event at this level would be written (check before costly formatting). */
bool log_enabled(enum cfg_log_level level);

/* Writes one event: a fixed message plus string key/value pairs, NULL-terminated.
 * A NULL value is written as null. Each event is emitted with a single write(2),
 * so concurrent threads never interleave lines. Values are never redacted here:
 * callers pass DSNs through dsn_redact() first. */
void log_event(enum cfg_log_level level, const char *msg, ...) __attribute__((sentinel));

#define log_debug(...) log_event(CFG_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_event(CFG_LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_event(CFG_LOG_WARN, __VA_ARGS__)
#define log_error(...) log_event(CFG_LOG_ERROR, __VA_ARGS__)

#endif /* SCHEMAGATE_LOG_H */
