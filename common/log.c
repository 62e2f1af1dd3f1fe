/* log.c -- see log.h. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static const char *log_prog = "herald";
static enum log_level log_min = LOG_INFO;
static enum log_format log_fmt = LOG_JSON;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *prog, enum log_level min, enum log_format fmt)
{
    const char *e;

    log_prog = prog ? prog : "herald";
    log_min = min;
    log_fmt = fmt;
    if ((e = getenv("HERALD_LOG_LEVEL")) != NULL) {
        for (int i = 0; i < 4; i++)
            if (strcasecmp(e, level_names[i]) == 0)
                log_min = (enum log_level)i;
    }
    if ((e = getenv("HERALD_LOG_FORMAT")) != NULL)
        log_fmt = strcasecmp(e, "text") == 0 ? LOG_TEXT : LOG_JSON;
}

int log_enabled(enum log_level level)
{
    return level >= log_min;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
    char msg[4096], line[9000], ts[40];
    size_t n;

    if (level < log_min)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    util_format_time_ms(util_now_ms(), ts, sizeof(ts));
    if (log_fmt == LOG_TEXT) {
        n = (size_t)snprintf(line, sizeof(line), "%s %-5s %s: %s\n", ts,
                             level_names[level], log_prog, msg);
    } else {
        char esc[8200];
        util_json_escape(msg, esc, sizeof(esc));
        n = (size_t)snprintf(
            line, sizeof(line),
            "{\"ts\":\"%s\",\"level\":\"%s\",\"prog\":\"%s\",\"msg\":\"%s\"}\n", ts,
            level_names[level], log_prog, esc);
    }
    if (n >= sizeof(line)) {
        n = sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}
