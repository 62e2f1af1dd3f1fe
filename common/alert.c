/* alert.c -- tier and alert kind names. */
#include "alert.h"

#include <string.h>

static const char *const tier_names[] = {"info", "warning", "critical"};

const char *tier_name(enum tier t)
{
    return (unsigned)t < 3 ? tier_names[t] : "info";
}

int tier_parse(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, tier_names[i]) == 0)
            return i;
    return -1;
}

static const char *const kind_names[ALERT_KIND_COUNT] = {
    "failure",   "recovered",           "reminder", "consequence",
    "ecosystem", "ecosystem-recovered", "stalled"};

const char *alert_kind_name(enum alert_kind k)
{
    return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k]
                                                                    : "failure";
}

int alert_kind_parse(const char *s)
{
    for (int i = 0; s && i < ALERT_KIND_COUNT; i++)
        if (strcmp(kind_names[i], s) == 0)
            return i;
    return -1;
}
