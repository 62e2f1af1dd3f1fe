/* dag.h -- the release DAG of the config (release.stages): which stages come before
 * and after a stage. Pure functions of the config; any thread. */
#ifndef HERALD_DAG_H
#define HERALD_DAG_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Index of `stage` in cfg->release_stages, or -1 if it is not a release stage. */
long dag_index(const struct config *cfg, const char *stage);

/* Mark in in[0..cfg->nrelease_stages) the stages before stage i (transitively, the
 * ones it waits for). in must hold nrelease_stages bools. */
void dag_ancestors(const struct config *cfg, size_t i, bool *in);

/* Mark the stages that list stage i in their `after` (the ones that wait for it). */
void dag_successors(const struct config *cfg, size_t i, bool *out);

/* Mark the stages after stage i, transitively (everything that waits for it). */
void dag_descendants(const struct config *cfg, size_t i, bool *out);

#endif
