/* keys.c -- see keys.h. */
#include "keys.h"

#include <stdio.h>
#include <string.h>

static const char *const suffixes[KEY__COUNT] = {
    [KEY_JOBS] = "jobs",       [KEY_HOT] = "hot",         [KEY_RELS] = "rels",
    [KEY_ECOS] = "ecos",       [KEY_PEND] = "pend",       [KEY_BUF] = "buf",
    [KEY_BUFDATA] = "bufdata", [KEY_TIMERS] = "timers",   [KEY_WM] = "wm",
    [KEY_META] = "meta",       [KEY_ALERTS] = "alerts",   [KEY_Q] = "q",
    [KEY_QSCHED] = "qsched",   [KEY_EXPLAIN] = "explain", [KEY_EXPLAIN_T] = "explain:t",
    [KEY_PINS] = "pins",       [KEY_GC] = "gc",           [KEY_QSTATE] = "qstate",
    [KEY_THREADS] = "threads", [KEY_STORM] = "storm",     [KEY_SENT] = "sent",
};

int keys_init(struct keys *k, const char *prefix)
{
    if (!prefix)
        prefix = "";
    if (strlen(prefix) > KEYS_MAX_PREFIX)
        return -1;
    for (int i = 0; i < KEY__COUNT; i++)
        snprintf(k->name[i], sizeof(k->name[i]), "%s%s", prefix, suffixes[i]);
    return 0;
}

const char *keys_suffix(enum key_id id)
{
    return (unsigned)id < KEY__COUNT ? suffixes[id] : "";
}
