/*
 * tiers/ram/lru.c - list primitives of the segmented LRU. See lru.h.
 *
 * Lock order: stripe lock -> lru_class_t.lock -> slab locks.
 */
#include "lru.h"

#include <string.h>

void lru_class_init(lru_class_t *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
}

uint32_t lru_class_age(lru_class_t *l, rel_time_t now)
{
    uint32_t age = 0;
    pthread_mutex_lock(&l->lock);
    item_t *t = l->tail[LRU_COLD];
    if (!t)
        t = l->tail[LRU_WARM] ? l->tail[LRU_WARM] : l->tail[LRU_HOT];
    if (t && now > t->time)
        age = now - t->time;
    pthread_mutex_unlock(&l->lock);
    return age;
}

void lru_class_teardown(lru_class_t *l)
{
    pthread_mutex_destroy(&l->lock);
}

void do_lru_link(lru_class_t *l, item_t *it, lru_id_e lru)
{
    item_set_lru(it, lru);
    it->prev = NULL;
    it->next = l->head[lru];
    if (it->next)
        it->next->prev = it;
    l->head[lru] = it;
    if (!l->tail[lru])
        l->tail[lru] = it;
    l->count[lru]++;
    l->bytes[lru] += item_ntotal(it);
}

void do_lru_unlink(lru_class_t *l, item_t *it)
{
    lru_id_e lru = item_lru(it);
    if (l->head[lru] == it)
        l->head[lru] = it->next;
    if (l->tail[lru] == it)
        l->tail[lru] = it->prev;
    if (it->next)
        it->next->prev = it->prev;
    if (it->prev)
        it->prev->next = it->next;
    it->next = it->prev = NULL;
    l->count[lru]--;
    l->bytes[lru] -= item_ntotal(it);
}

void do_lru_move(lru_class_t *l, item_t *it, lru_id_e lru)
{
    do_lru_unlink(l, it);
    do_lru_link(l, it, lru);
}
