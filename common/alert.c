/* alert.c -- tier names. */
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
