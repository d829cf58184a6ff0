/* tests/unit/tiers/fake_lower.h - pieces of a fake lower tier (ram.h,
 * ram_lower_hooks_t): the two hooks of one that keeps no copy a key
 * change must drop (changed() drops nothing, current() never finds a copy
 * current), and the walk of a list handed to enqueue(). */
#ifndef TIERCACHE_TEST_TIERS_FAKE_LOWER_H
#define TIERCACHE_TEST_TIERS_FAKE_LOWER_H

#include <stdbool.h>
#include <stdint.h>

#include "ram/item.h"

static inline void fake_lower_changed(void *ctx, uint64_t hv)
{
    (void)ctx;
    (void)hv;
}

static inline bool fake_lower_current(void *ctx, uint64_t hv, uint64_t loc)
{
    (void)ctx;
    (void)hv;
    (void)loc;
    return false;
}

/* Detaches and returns the first item of a list handed to enqueue()
 * (chained through ->next), NULL at its end. */
static inline item_t *fake_lower_pop(item_t **list)
{
    item_t *it = *list;
    if (it) {
        *list = it->next;
        it->next = NULL;
    }
    return it;
}

#endif /* TIERCACHE_TEST_TIERS_FAKE_LOWER_H */
