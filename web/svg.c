/* svg.c -- see svg.h. Layout in pixels; every label escaped with html_text. */
#include "svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "html.h"

#define BAR_H 18
#define LABEL_W 260

int svg_bars(struct buf *b, const char *const *labels, const double *values,
             const char *const *href, size_t n, int decimals, const char *suffix,
             const char *color)
{
    double max = 0;
    int w = 620, h = (int)n * (BAR_H + 4) + 6;
    char num[64];

    for (size_t i = 0; i < n; i++)
        if (isfinite(values[i]) && values[i] > max)
            max = values[i];
    if (buf_printf(b,
                   "<svg class=\"bars\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                   "role=\"img\">",
                   w, h, w, h) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        double v = isfinite(values[i]) ? values[i] : 0;
        int y = 4 + (int)i * (BAR_H + 4);
        int bw = max > 0 ? (int)((w - LABEL_W - 70) * v / max) : 0;
        snprintf(num, sizeof(num), "%.*f%s", decimals, v, suffix);
        if (href && href[i] &&
            (buf_puts(b, "<a href=\"") < 0 || html_text(b, href[i]) < 0 ||
             buf_puts(b, "\">") < 0))
            return -1;
        if (buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LABEL_W - 6,
                       y + 13) < 0 ||
            html_text(b, labels[i]) < 0 || buf_puts(b, "</text>") < 0)
            return -1;
        if (href && href[i] && buf_puts(b, "</a>") < 0)
            return -1;
        if (buf_printf(b,
                       "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>"
                       "<text x=\"%d\" y=\"%d\">%s</text>",
                       LABEL_W, y, bw > 0 ? bw : 1, BAR_H, color, LABEL_W + bw + 5,
                       y + 13, num) < 0)
            return -1;
    }
    return buf_puts(b, "</svg>");
}

int svg_lines(struct buf *b, const char *const *xl, size_t n, const struct svg_series *s,
              size_t ns, int decimals, const char *yunit)
{
    int w = 560, h = 240, left = 50, right = 16, top = 24, bottom = 40;
    double max = 0;
    char num[64];

    for (size_t k = 0; k < ns; k++)
        for (size_t i = 0; i < n; i++)
            if (isfinite(s[k].values[i]) && s[k].values[i] > max)
                max = s[k].values[i];
    if (max <= 0)
        max = 1;
    max *= 1.15;
    if (buf_printf(
            b,
            "<svg class=\"lines\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "role=\"img\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
            "stroke=\"#8c959f\"/><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
            "stroke=\"#8c959f\"/>",
            w, h, w, h, left, top, left, h - bottom, left, h - bottom, w - right,
            h - bottom) < 0)
        return -1;
    snprintf(num, sizeof(num), "%.*f", decimals, max / 1.15);
    if (buf_printf(b, "<text x=\"4\" y=\"%d\">%s</text><text x=\"4\" y=\"%d\">0</text>",
                   top + 4, num, h - bottom) < 0 ||
        buf_printf(b, "<text x=\"4\" y=\"14\" class=\"muted\">") < 0 ||
        html_text(b, yunit) < 0 || buf_puts(b, "</text>") < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        double x = left +
                   (n > 1 ? (double)i * (w - left - right - 20) / (double)(n - 1) : 20) +
                   10;
        if (buf_printf(b, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">", x,
                       h - bottom + 16) < 0 ||
            html_text(b, xl[i]) < 0 || buf_puts(b, "</text>") < 0)
            return -1;
    }
    for (size_t k = 0; k < ns; k++) {
        bool pen = false;
        if (buf_printf(b, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" d=\"",
                       s[k].color) < 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            double v = s[k].values[i];
            double x =
                left +
                (n > 1 ? (double)i * (w - left - right - 20) / (double)(n - 1) : 20) + 10;
            if (!isfinite(v)) {
                pen = false;
                continue;
            }
            if (buf_printf(b, "%c%.1f %.1f ", pen ? 'L' : 'M', x,
                           h - bottom - v / max * (h - top - bottom)) < 0)
                return -1;
            pen = true;
        }
        if (buf_puts(b, "\"/>") < 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            double v = s[k].values[i];
            double x =
                left +
                (n > 1 ? (double)i * (w - left - right - 20) / (double)(n - 1) : 20) + 10;
            double y = h - bottom - (isfinite(v) ? v : 0) / max * (h - top - bottom);
            if (!isfinite(v))
                continue;
            snprintf(num, sizeof(num), "%.*f", decimals, v);
            if (buf_printf(b,
                           "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>"
                           "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                           "fill=\"%s\">%s</text>",
                           x, y, s[k].color, x, y - 6, s[k].color, num) < 0)
                return -1;
        }
        if (buf_printf(b,
                       "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                       "<text x=\"%d\" y=\"%d\">",
                       left + 10 + (int)k * 170, h - 14, s[k].color,
                       left + 24 + (int)k * 170, h - 5) < 0 ||
            html_text(b, s[k].name) < 0 || buf_puts(b, "</text>") < 0)
            return -1;
    }
    return buf_puts(b, "</svg>");
}

int svg_heatmap(struct buf *b, const char *const *rows, size_t nrows,
                const char *const *cols, size_t ncols, const double *v,
                const char *const *titles)
{
    int cw = 18, ch = 16, left = 150, top = 46;
    int w = left + (int)ncols * cw + 10, h = top + (int)nrows * ch + 6;
    double max = 0;

    for (size_t i = 0; i < nrows * ncols; i++)
        if (isfinite(v[i]) && v[i] > max)
            max = v[i];
    if (buf_printf(
            b,
            "<svg class=\"heatmap\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "role=\"img\">",
            w, h, w, h) < 0)
        return -1;
    for (size_t c = 0; c < ncols; c++)
        if (buf_printf(b, "<text transform=\"translate(%d %d) rotate(-60)\">",
                       left + (int)c * cw + 12, top - 4) < 0 ||
            html_text(b, cols[c]) < 0 || buf_puts(b, "</text>") < 0)
            return -1;
    for (size_t r = 0; r < nrows; r++) {
        if (buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6,
                       top + (int)r * ch + 12) < 0 ||
            html_text(b, rows[r]) < 0 || buf_puts(b, "</text>") < 0)
            return -1;
        for (size_t c = 0; c < ncols; c++) {
            double x = v[r * ncols + c];
            char fill[16];
            if (!isfinite(x)) {
                snprintf(fill, sizeof(fill), "#f6f8fa");
            } else {
                double t = max > 0 ? x / max : 0;
                int g = (int)(235 - 190 * t);
                snprintf(fill, sizeof(fill), "#%02x%02x%02x", x > 0 ? 240 : 220,
                         x > 0 ? g : 237, x > 0 ? g : 222);
            }
            if (buf_printf(b,
                           "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                           "fill=\"%s\" stroke=\"#fff\"><title>",
                           left + (int)c * cw, top + (int)r * ch, cw, ch, fill) < 0 ||
                html_text(b, rows[r]) < 0 || buf_puts(b, " · ") < 0 ||
                html_text(b, cols[c]) < 0 || buf_puts(b, ": ") < 0 ||
                html_text(b, titles && titles[r * ncols + c] ? titles[r * ncols + c]
                                                             : "no runs") < 0 ||
                buf_puts(b, "</title></rect>") < 0)
                return -1;
        }
    }
    return buf_puts(b, "</svg>");
}

int svg_dag(struct buf *b, const struct svg_node *nodes, size_t nn,
            const struct svg_edge *e, size_t ne)
{
    int nw = 250, nh = 54, gx = 90, gy = 26, pad = 16;
    int maxdepth = 0, rows[64] = {0}, row_of[256];
    int w, h, maxrows = 1;

    if (nn > 256)
        nn = 256;
    for (size_t i = 0; i < nn; i++) {
        int d = nodes[i].depth < 0 ? 0 : nodes[i].depth > 63 ? 63 : nodes[i].depth;
        row_of[i] = rows[d]++;
        if (d > maxdepth)
            maxdepth = d;
        if (rows[d] > maxrows)
            maxrows = rows[d];
    }
    w = pad * 2 + (maxdepth + 1) * nw + maxdepth * gx;
    h = pad * 2 + maxrows * nh + (maxrows - 1) * gy;
    if (buf_printf(
            b,
            "<svg class=\"dag\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "role=\"img\"><defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" "
            "refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\">"
            "<path d=\"M0 0L10 5L0 10z\" fill=\"#57606a\"/></marker></defs>",
            w, h, w, h) < 0)
        return -1;
#define NX(i) (pad + (nodes[i].depth < 0 ? 0 : nodes[i].depth) * (nw + gx))
#define NY(i) (pad + row_of[i] * (nh + gy))
    for (size_t k = 0; k < ne; k++) {
        size_t f = e[k].from, t = e[k].to;
        if (f >= nn || t >= nn)
            continue;
        int x1 = NX(f) + nw, y1 = NY(f) + nh / 2, x2 = NX(t), y2 = NY(t) + nh / 2;
        if (buf_printf(b, "<path class=\"edge\" data-from=\"") < 0 ||
            html_text(b, nodes[f].id) < 0 || buf_puts(b, "\" data-to=\"") < 0 ||
            html_text(b, nodes[t].id) < 0 ||
            buf_printf(
                b,
                "\" d=\"M%d %d C%d %d %d %d %d %d\" fill=\"none\" stroke=\"#57606a\" "
                "stroke-width=\"2\" marker-end=\"url(#arrow)\"><title>",
                x1, y1, x1 + gx / 2, y1, x2 - gx / 2, y2, x2, y2) < 0 ||
            html_text(b, nodes[t].id) < 0 || buf_puts(b, " waits for ") < 0 ||
            html_text(b, nodes[f].id) < 0 || buf_puts(b, "</title></path>") < 0)
            return -1;
    }
    for (size_t i = 0; i < nn; i++) {
        int x = NX(i), y = NY(i);
        if (nodes[i].href && (buf_puts(b, "<a href=\"") < 0 ||
                              html_text(b, nodes[i].href) < 0 || buf_puts(b, "\">") < 0))
            return -1;
        if (buf_puts(b, "<g class=\"node\" data-stage=\"") < 0 ||
            html_text(b, nodes[i].id) < 0 || buf_puts(b, "\" data-state=\"") < 0 ||
            html_text(b, nodes[i].state) < 0 ||
            buf_printf(b,
                       "\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"8\" "
                       "fill=\"%s\"/><text x=\"%d\" y=\"%d\" fill=\"#fff\" "
                       "font-weight=\"600\">",
                       x, y, nw, nh, html_state_color(nodes[i].state), x + 10,
                       y + 20) < 0 ||
            html_text(b, nodes[i].id) < 0 || buf_puts(b, " · ") < 0 ||
            html_text(b, nodes[i].state) < 0 ||
            buf_printf(b, "</text><text x=\"%d\" y=\"%d\" fill=\"#fff\">", x + 10,
                       y + 40) < 0 ||
            html_text(b, nodes[i].sub ? nodes[i].sub : "") < 0 ||
            buf_puts(b, "</text></g>") < 0)
            return -1;
        if (nodes[i].href && buf_puts(b, "</a>") < 0)
            return -1;
    }
#undef NX
#undef NY
    return buf_puts(b, "</svg>");
}

int svg_timeline(struct buf *b, const struct svg_span *s, size_t n, int64_t t0,
                 int64_t t1)
{
    int w = 1000, left = 330, rowh = 20, top = 22;
    int h = top + (int)n * rowh + 8;
    double span = t1 > t0 ? (double)(t1 - t0) : 1;

    if (buf_printf(
            b,
            "<svg class=\"timeline\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "role=\"img\"><text x=\"%d\" y=\"14\">",
            w, h, w, h, left) < 0 ||
        html_time(b, t0) < 0 ||
        buf_printf(b, "</text><text x=\"%d\" y=\"14\" text-anchor=\"end\">", w - 4) < 0 ||
        html_time(b, t1) < 0 || buf_puts(b, "</text>") < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int64_t e = s[i].end_ms > 0 ? s[i].end_ms : t1;
        double x = left + (double)(s[i].start_ms - t0) / span * (w - left - 8);
        double bw = (double)(e - s[i].start_ms) / span * (w - left - 8);
        int y = top + (int)i * rowh;
        if (bw < 2)
            bw = 2;
        if (buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6,
                       y + 13) < 0 ||
            html_text(b, s[i].label) < 0 || buf_puts(b, "</text>") < 0)
            return -1;
        if (s[i].href && (buf_puts(b, "<a href=\"") < 0 || html_text(b, s[i].href) < 0 ||
                          buf_puts(b, "\">") < 0))
            return -1;
        if (buf_printf(b,
                       "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" rx=\"3\" "
                       "fill=\"%s\"><title>",
                       x, y + 2, bw, rowh - 5, html_state_color(s[i].state)) < 0 ||
            html_text(b, s[i].label) < 0 || buf_puts(b, ": ") < 0 ||
            html_text(b, s[i].state) < 0 || buf_puts(b, "</title></rect>") < 0)
            return -1;
        if (s[i].href && buf_puts(b, "</a>") < 0)
            return -1;
    }
    return buf_puts(b, "</svg>");
}
