/* slack_eco.h -- inside slack.c: the ecosystem messages (ECOSYSTEM, ECO_RECOVERED),
 * one stage failing across services. Not for other callers: use slack_format(). */
#ifndef HERALD_SLACK_ECO_H
#define HERALD_SLACK_ECO_H

#include <cjson/cJSON.h>

#include "alert.h"
#include "util.h"

/* The header and the fallback line (raw; slack.c escapes them). 0 or -1. */
int slack_eco_summary(const struct alert *a, struct buf *head, struct buf *fb);

/* The blocks: every member with its version, link and consequences (collapsed past
 * SLACK_ECO_SHOW), the window, and the context lines. 0 or -1. */
int slack_eco_blocks(cJSON *blocks, const struct alert *a);

/* In slack.c: the context lines every kind ends with (a->extra, the dashboard link). */
int slack_context_extra(cJSON *blocks, const struct alert *a);

#define SLACK_ECO_SHOW 100   /* members listed in full; the rest are counted */
#define SLACK_ECO_SECTIONS 8 /* sections of members at most (3000 bytes each) */

#endif
