/* ctl.h -- what heraldctl's commands share: the Redis connection and its settings,
 * usage and error exits. main.c parses the global options and dispatches; each
 * command lives in its own file (silence_cmd.c, explain_cmd.c).
 *
 * Exit codes: CTL_OK, CTL_USAGE (usage error or not found), CTL_UNREACHABLE (Redis
 * could not be reached or the connection broke).
 */
#ifndef HERALD_CTL_H
#define HERALD_CTL_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "rconn.h"

#define CTL_OK 0
#define CTL_USAGE 1
#define CTL_UNREACHABLE 2

struct ctl {
    struct rconn r;
    char host[256];
    int port;
    int db;
    const char *password; /* borrowed (environment or cfg); secret, never printed */
    const char *prefix;   /* borrowed (argv, cfg or a literal) */
    int64_t timeout_ms;
    struct config *cfg; /* with -c, else NULL; owned */
};

/* Print the usage text to f. */
void ctl_usage(FILE *f);

/* Print "heraldctl: <msg>" and the usage to stderr; returns CTL_USAGE. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Connect (loading the scripts registered on c->r). Returns CTL_OK, or prints why
 * (naming host:port, never the password) and returns CTL_UNREACHABLE. */
int ctl_connect(struct ctl *c);

/* After a failed library call: print "heraldctl: <errstr>" and return
 * CTL_UNREACHABLE if the connection broke (rconn reset it), else CTL_USAGE. */
int ctl_fail(struct ctl *c, const char *errstr);

/* The commands: argv[0] is the command name ("silence", "explain"); the rest are its
 * arguments. Return an exit code. */
int ctl_silence(struct ctl *c, int argc, char **argv);
int ctl_explain(struct ctl *c, int argc, char **argv);

/* Print s to f with control characters replaced by spaces, cut to at most `width`
 * characters (UTF-8 code points; "..." marks a cut), padded with spaces to `pad`
 * characters (0 for no padding). */
void ctl_print_cell(FILE *f, const char *s, size_t width, size_t pad);

/* Display width of s in characters as ctl_print_cell would print it (at most width). */
size_t ctl_cell_width(const char *s, size_t width);

#endif
