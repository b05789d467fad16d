/* log.h - one structured event per line on stderr: JSON (default) or text for people. */
#ifndef SCHEMAGATE_LOG_H
#define SCHEMAGATE_LOG_H

#include <stdbool.h>

enum log_format { LOG_FORMAT_JSON = 0, LOG_FORMAT_TEXT };
enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Sets format and threshold; may be called again (e.g. once config is loaded).
 * Not thread-safe against concurrent log calls: call before starting threads. */
void log_setup(enum log_format format, enum log_level level);

/* True when an event at this level would be written (check before costly formatting). */
bool log_enabled(enum log_level level);

/* Writes one event: a fixed message plus string key/value pairs, NULL-terminated.
 * A NULL value is written as null. Each event is emitted with a single write(2),
 * so concurrent threads never interleave lines. Values are never redacted here:
 * callers pass DSNs through dsn_redact() first. */
void log_event(enum log_level level, const char *msg, ...) __attribute__((sentinel));

#define log_debug(...) log_event(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_event(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_event(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_event(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif /* SCHEMAGATE_LOG_H */
