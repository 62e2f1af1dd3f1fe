/* version.c -- see version.h. */
#include "version.h"

#ifndef HERALD_VERSION
#define HERALD_VERSION "unknown"
#endif

const char *version_string(void)
{
    return HERALD_VERSION[0] ? HERALD_VERSION : "unknown";
}

void version_print(FILE *f, const char *prog)
{
    fprintf(f, "%s %s\n", prog, version_string());
}
