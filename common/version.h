/* version.h -- the one version string every Herald binary reports (--version).
 *
 * The Makefile sets it at build time from `git describe --tags --always --dirty`
 * (HERALD_VERSION=... on the make command line overrides it, as the Dockerfile does
 * with its build argument); a build without git says "unknown". Only version.c is
 * compiled with it, so a new commit rebuilds one object and relinks.
 */
#ifndef HERALD_VERSION_H
#define HERALD_VERSION_H

#include <stdio.h>

/* The version, e.g. "v0.3.0-12-g1a2b3c4", "1a2b3c4-dirty" or "unknown". Static
 * string; thread-safe. */
const char *version_string(void);

/* Print "<prog> <version>\n" to f: what `--version` prints, to stdout, exit 0. */
void version_print(FILE *f, const char *prog);

#endif
