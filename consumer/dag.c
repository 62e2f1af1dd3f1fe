/* dag.c -- see dag.h. The config lists each stage after the stages it waits for, so
 * a walk back over `after` lists ends. */
#include "dag.h"

#include <string.h>

long dag_index(const struct config *cfg, const char *stage)
{
    for (size_t i = 0; i < cfg->nrelease_stages; i++)
        if (strcmp(cfg->release_stages[i].stage, stage) == 0)
            return (long)i;
    return -1;
}

void dag_ancestors(const struct config *cfg, size_t i, bool *in)
{
    const struct release_stage *s = &cfg->release_stages[i];

    for (size_t j = 0; j < s->nafter; j++) {
        long a = dag_index(cfg, s->after[j]);
        if (a < 0 || in[a])
            continue;
        in[a] = true;
        dag_ancestors(cfg, (size_t)a, in);
    }
}

void dag_successors(const struct config *cfg, size_t i, bool *out)
{
    const char *name = cfg->release_stages[i].stage;

    for (size_t k = 0; k < cfg->nrelease_stages; k++)
        for (size_t j = 0; j < cfg->release_stages[k].nafter; j++)
            if (strcmp(cfg->release_stages[k].after[j], name) == 0)
                out[k] = true;
}

void dag_descendants(const struct config *cfg, size_t i, bool *out)
{
    bool next[CLASSIFY_MAX_RULES] = {false};

    dag_successors(cfg, i, next);
    for (size_t k = 0; k < cfg->nrelease_stages; k++)
        if (next[k] && !out[k]) {
            out[k] = true;
            dag_descendants(cfg, k, out);
        }
}
