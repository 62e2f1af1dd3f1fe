/* svg.h -- herald-web's pictures, drawn on the server as inline SVG.
 *
 * Why SVG from C: the pages must render with no network access and no build step
 * beyond make; an inline <svg> is part of the HTML response (nothing else to fetch,
 * no JavaScript to run), is crisp at any zoom, is searchable and testable in the DOM
 * (the browser test reads the graph's nodes and edges), and every label goes through
 * the same HTML escaping as the rest of the page. docs/dashboard.md has the longer
 * argument.
 *
 * Each function appends one <svg> element to b; returns 0 or -1 (buffer full).
 * Strings are escaped here; numbers that are NaN are "no data" (gaps, empty cells).
 */
#ifndef HERALD_WEB_SVG_H
#define HERALD_WEB_SVG_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define SVG_MAX_SERIES 4

/* Horizontal bars: one per label, its value written beside it with `decimals`
 * decimals and `suffix` ("", "%"). href[i] may be NULL (no link); href may be NULL. */
int svg_bars(struct buf *b, const char *const *labels, const double *values,
             const char *const *href, size_t n, int decimals, const char *suffix,
             const char *color);

/* A line plot over x labels: nseries series of n values each (values[s][i]), with
 * their names in a legend; points are labelled with their values (`decimals`). */
struct svg_series {
    const char *name;
    const char *color;
    const double *values;
};
int svg_lines(struct buf *b, const char *const *xlabels, size_t n,
              const struct svg_series *series, size_t nseries, int decimals,
              const char *yunit);

/* A heat map: rows x cols, cell value v[r * ncols + c] (NaN = no runs), coloured from
 * white (0) to red (max); each cell has a <title> "row · col: text". cells may carry
 * the text shown on hover in titles[r * ncols + c] (may be NULL). */
int svg_heatmap(struct buf *b, const char *const *rows, size_t nrows,
                const char *const *cols, size_t ncols, const double *v,
                const char *const *titles);

/* The release graph: stages as nodes in DAG order (column = depth), coloured by
 * state; edges from each stage to the stages that wait for it. */
struct svg_node {
    const char *id;    /* the stage: data-stage attribute and the label */
    const char *state; /* colour (html_state_color) and data-state */
    const char *sub;   /* second line (job, duration), may be NULL */
    const char *href;  /* link, may be NULL */
    int depth;         /* column: 0 for stages without upstream */
};
struct svg_edge {
    size_t from, to; /* node indexes: `to` waits for `from` */
};
int svg_dag(struct buf *b, const struct svg_node *nodes, size_t nnodes,
            const struct svg_edge *edges, size_t nedges);

/* A timeline (Gantt) of runs: bars from start to end on a shared time axis. */
struct svg_span {
    const char *label;
    const char *state;
    int64_t start_ms, end_ms; /* end 0 = still running (drawn to t1) */
    const char *href;         /* may be NULL */
};
int svg_timeline(struct buf *b, const struct svg_span *spans, size_t n, int64_t t0,
                 int64_t t1);

#endif
