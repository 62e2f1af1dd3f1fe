/* log.h -- leveled log lines on stderr, JSON by default.
 *
 * Every line is one JSON object: {"ts":"2026-11-25T10:00:00.123Z","level":"info",
 * "prog":"herald-consumer","msg":"..."}; with HERALD_LOG_FORMAT=text (or
 * log_init(..., LOG_TEXT)) a plain "ts level prog: msg" line instead.
 * Thread-safe: each line is written with one write(2).
 *
 * Never pass a secret (webhook URL, token, password) to a log call: callers name
 * receivers, never their URLs.
 */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_JSON = 0, LOG_TEXT };

/* Set the program name (borrowed; must outlive logging), the minimum level and the
 * format. HERALD_LOG_LEVEL (debug|info|warn|error) and HERALD_LOG_FORMAT (json|text)
 * in the environment override the arguments. Call once from main() before threads. */
void log_init(const char *prog, enum log_level min, enum log_format fmt);

/* true if a line at `level` would be written. */
int log_enabled(enum log_level level);

/* Write one line at `level`; printf-style. Long messages are cut at 4 KiB. */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
