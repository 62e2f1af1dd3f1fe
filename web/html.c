/* html.c -- see html.h. */
#include "html.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int html_text(struct buf *b, const char *s)
{
    const char *p, *run;

    if (!s)
        return 0;
    for (p = run = s; *p; p++) {
        const char *rep = NULL;
        switch (*p) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            continue;
        }
        if (buf_append(b, run, (size_t)(p - run)) < 0 || buf_puts(b, rep) < 0)
            return -1;
        run = p + 1;
    }
    return buf_append(b, run, (size_t)(p - run));
}

int html_path(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    if (!s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        bool keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
                    *p == '~';
        if (keep ? buf_append(b, p, 1) < 0 : buf_append(b, enc, 3) < 0)
            return -1;
    }
    return 0;
}

int html_textf(struct buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    return html_text(b, tmp);
}

/* The style sheet: one file's worth, inline (no request leaves the page). */
static const char css[] =
    "*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"
    "'Segoe UI',Roboto,sans-serif;color:#1f2328;background:#f6f8fa}"
    "header{background:#24292f;color:#fff;padding:10px 20px;display:flex;gap:24px;"
    "align-items:center}header b{font-size:16px}header "
    "a{color:#d0d7de;text-decoration:none}"
    "header a.on{color:#fff;border-bottom:2px solid #fff}main{padding:16px 20px;"
    "max-width:1400px}h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:22px "
    "0 8px}"
    "table{border-collapse:collapse;background:#fff;border:1px solid #d0d7de}"
    "th,td{padding:5px 9px;border-bottom:1px solid #eaeef2;text-align:left;"
    "vertical-align:top}th{background:#f6f8fa;font-weight:600}td.num,th.num{text-align:"
    "right;"
    "font-variant-numeric:tabular-nums}a{color:#0969da}.muted{color:#656d76}"
    ".st{display:inline-block;padding:1px "
    "7px;border-radius:10px;color:#fff;font-size:12px;"
    "font-weight:600}.st-succeeded,.st-success{background:#1a7f37}.st-failed,.st-failure,"
    ".st-error{background:#cf222e}.st-blocked{background:#bc4c00}.st-stale{background:#"
    "8250df}"
    ".st-running,.st-pending,.st-triggered{background:#0969da}.st-waiting,.st-aborted,"
    ".st-none,.st-scheduling{background:#6e7781}.cell{min-width:150px}.cell "
    "small{display:block;"
    "color:#656d76}form.filters{margin:0 0 12px;display:flex;gap:10px;align-items:end;"
    "flex-wrap:wrap}form.filters label{display:flex;flex-direction:column;font-size:12px;"
    "color:#656d76}.plots{display:flex;flex-wrap:wrap;gap:20px;align-items:flex-start}"
    ".plot{background:#fff;border:1px solid #d0d7de;padding:8px}.plot h3{font-size:13px;"
    "margin:0 0 6px}svg text{font:11px system-ui,sans-serif}.err{background:#fff;"
    "border:1px solid #d0d7de;padding:20px}.up{color:#cf222e}.down{color:#1a7f37}";

int html_head(struct buf *b, const char *title, const char *active)
{
    static const char *const nav[][2] = {
        {"board", "/"}, {"trends", "/trends"}, {"outcomes", "/outcomes"}};
    static const char *const label[] = {"Release board", "Trends", "Outcomes"};

    if (buf_puts(b,
                 "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                 "<link rel=\"icon\" href=\"data:,\">"
                 "<title>") < 0 ||
        html_text(b, title) < 0 || buf_puts(b, " · Herald</title><style>") < 0 ||
        buf_puts(b, css) < 0 ||
        buf_puts(b, "</style></head><body><header><b>Herald</b>") < 0)
        return -1;
    for (size_t i = 0; i < 3; i++)
        if (buf_printf(b, "<a href=\"%s\"%s>%s</a>", nav[i][1],
                       active && !strcmp(active, nav[i][0]) ? " class=\"on\"" : "",
                       label[i]) < 0)
            return -1;
    return buf_puts(b, "</header><main>");
}

int html_foot(struct buf *b)
{
    return buf_puts(b, "</main></body></html>\n");
}

int html_error_page(struct buf *b, unsigned int status, const char *msg)
{
    const char *what = status == 404   ? "Not found"
                       : status == 400 ? "Bad request"
                       : status == 503 ? "Unavailable"
                                       : "Error";

    return html_head(b, what, NULL) < 0 ||
                   buf_printf(b, "<div class=\"err\"><h1>%u · %s</h1><p>", status, what) <
                       0 ||
                   html_text(b, msg) < 0 ||
                   buf_puts(
                       b,
                       "</p><p><a href=\"/\">Back to the release board</a></p></div>") <
                       0 ||
                   html_foot(b) < 0
               ? -1
               : 0;
}

int html_time(struct buf *b, int64_t ms)
{
    char out[48];
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0)
        return buf_puts(b, "-");
    if (!gmtime_r(&t, &tm) ||
        strftime(out, sizeof(out), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        return buf_puts(b, "?");
    return buf_puts(b, out);
}

int html_duration(struct buf *b, int64_t ms)
{
    char out[64];

    if (ms < 0)
        return buf_puts(b, "-");
    if (ms < 60000)
        return buf_printf(b, "%.1f s", (double)ms / 1000.0);
    return buf_puts(b, util_human_duration(ms, out, sizeof(out)));
}

const char *html_state_color(const char *s)
{
    if (!s)
        return "#6e7781";
    if (!strcmp(s, "succeeded") || !strcmp(s, "success"))
        return "#1a7f37";
    if (!strcmp(s, "failed") || !strcmp(s, "failure") || !strcmp(s, "error"))
        return "#cf222e";
    if (!strcmp(s, "blocked"))
        return "#bc4c00";
    if (!strcmp(s, "stale"))
        return "#8250df";
    if (!strcmp(s, "running") || !strcmp(s, "pending") || !strcmp(s, "triggered"))
        return "#0969da";
    return "#6e7781";
}

int html_badge(struct buf *b, const char *state, const char *text)
{
    return buf_puts(b, "<span class=\"st st-") < 0 || html_text(b, state) < 0 ||
                   buf_puts(b, "\">") < 0 || html_text(b, text ? text : state) < 0 ||
                   buf_puts(b, "</span>") < 0
               ? -1
               : 0;
}
