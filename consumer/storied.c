/* storied.c -- see storied.h. */
#include "storied.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SLOTS (2 * STORIED_MAX)

static size_t hash_of(const char *key)
{
    return (size_t)(util_fnv1a(key) % SLOTS);
}

int storied_init(struct storied *s)
{
    s->n = 0;
    s->slot = calloc(SLOTS, sizeof(*s->slot));
    return s->slot ? 0 : -1;
}

static void clear(struct storied *s)
{
    for (size_t i = 0; i < SLOTS; i++) {
        free(s->slot[i]);
        s->slot[i] = NULL;
    }
    s->n = 0;
}

void storied_release(struct storied *s)
{
    if (!s || !s->slot)
        return;
    clear(s);
    free(s->slot);
    s->slot = NULL;
}

bool storied_has(const struct storied *s, const char *key)
{
    if (!s || !s->slot || !key)
        return false;
    for (size_t i = hash_of(key);; i = (i + 1) % SLOTS) {
        if (!s->slot[i])
            return false;
        if (strcmp(s->slot[i], key) == 0)
            return true;
    }
}

void storied_add(struct storied *s, const char *key)
{
    char *copy;

    if (!s || !s->slot || !key || storied_has(s, key))
        return;
    if (s->n >= STORIED_MAX)
        clear(s); /* half the slots stay empty: every probe ends */
    if (!(copy = strdup(key)))
        return;
    size_t i = hash_of(key);
    while (s->slot[i])
        i = (i + 1) % SLOTS;
    s->slot[i] = copy;
    s->n++;
}
