/*
 * tiers/ram/slabs.c - slab classes, pages and chunks. See slabs.h.
 *
 * Lock order: slabclass_t.lock -> slabs_t.pool_lock.
 */
#include "slabs.h"

#include <stdlib.h>
#include <string.h>

slabs_status_e slabs_init(slabs_t *s, size_t mem_limit, size_t page_size,
                          size_t chunk_min, double growth,
                          size_t item_size_max, bool prealloc)
{
    memset(s, 0, sizeof *s);
    if (growth <= 1.0 || page_size < 1024 || chunk_min < 1 || item_size_max < 1024)
        return SLABS_EINVAL;
    s->page_size = page_size;
    s->item_size_max = item_size_max;
    s->mem_limit = mem_limit;
    pthread_mutex_init(&s->pool_lock, NULL);

    size_t chunk_max = page_size / 2;
    if (item_size_max < chunk_max)
        chunk_max = item_size_max;
    /* memcached's slabs_init(): unsigned arithmetic, truncating growth. */
    unsigned size = (unsigned)(ITEM_HEADER_SIZE + chunk_min);
    unsigned i = 0;
    while (++i < SLAB_CLASS_MAX - 2) {
        if ((double)size >= (double)chunk_max / growth)
            break;
        if (size % SLAB_CHUNK_ALIGN)
            size += SLAB_CHUNK_ALIGN - (size % SLAB_CHUNK_ALIGN);
        s->cls[i].size = size;
        s->cls[i].page_bytes = page_size;
        s->cls[i].perslab = (unsigned)(page_size / size);
        size = (unsigned)(size * growth);
    }
    s->cls[i].size = chunk_max;
    s->cls[i].page_bytes = page_size;
    s->cls[i].perslab = (unsigned)(page_size / chunk_max);
    if (item_size_max > chunk_max) {
        i++;
        s->cls[i].size = item_size_max;
        s->cls[i].page_bytes = item_size_max > page_size ? item_size_max : page_size;
        s->cls[i].perslab = (unsigned)(s->cls[i].page_bytes / item_size_max);
    }
    s->largest = i;
    for (unsigned id = 1; id <= s->largest; id++)
        pthread_mutex_init(&s->cls[id].lock, NULL);

    if (prealloc && mem_limit > 0) {
        size_t n = mem_limit / page_size;
        s->pool = calloc(n ? n : 1, sizeof(void *));
        if (!s->pool) {
            slabs_teardown(s);
            return SLABS_ENOMEM;
        }
        for (size_t k = 0; k < n; k++) {
            void *p = malloc(page_size);
            if (!p) {
                slabs_teardown(s);
                return SLABS_ENOMEM;
            }
            s->pool[s->npool++] = p;
        }
    }
    return SLABS_OK;
}

void slabs_teardown(slabs_t *s)
{
    for (unsigned id = 1; id <= s->largest; id++) {
        slabclass_t *c = &s->cls[id];
        for (size_t k = 0; k < c->npages; k++)
            free(c->pages[k]);
        free(c->pages);
        c->pages = NULL;
        c->npages = 0;
        pthread_mutex_destroy(&c->lock);
    }
    for (size_t k = 0; k < s->npool; k++)
        free(s->pool[k]);
    free(s->pool);
    s->pool = NULL;
    s->npool = 0;
    s->largest = 0;
    pthread_mutex_destroy(&s->pool_lock);
}

unsigned slabs_clsid(const slabs_t *s, size_t ntotal)
{
    if (ntotal == 0 || ntotal > s->item_size_max)
        return 0;
    /* Binary search: sizes grow with the id. */
    unsigned lo = 1, hi = s->largest;
    if (ntotal > s->cls[hi].size)
        return 0;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (s->cls[mid].size >= ntotal)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Caller holds c->lock. Gets a page for class c, or returns false. */
static bool do_slabs_newpage(slabs_t *s, slabclass_t *c, unsigned id)
{
    void *page = NULL;
    bool first = c->npages == 0;

    if (c->npages == c->pages_cap) {
        size_t cap = c->pages_cap ? c->pages_cap * 2 : 16;
        void **np = realloc(c->pages, cap * sizeof(void *));
        if (!np) {
            atomic_fetch_add_explicit(&s->malloc_fails, 1, memory_order_relaxed);
            return false;
        }
        c->pages = np;
        c->pages_cap = cap;
    }
    pthread_mutex_lock(&s->pool_lock);
    if (s->mem_limit && s->mem_malloced + c->page_bytes > s->mem_limit && !first) {
        pthread_mutex_unlock(&s->pool_lock);
        return false;
    }
    if (c->page_bytes == s->page_size && s->npool > 0)
        page = s->pool[--s->npool];
    s->mem_malloced += c->page_bytes;
    pthread_mutex_unlock(&s->pool_lock);

    if (!page) {
        page = malloc(c->page_bytes);
        if (!page) {
            atomic_fetch_add_explicit(&s->malloc_fails, 1, memory_order_relaxed);
            pthread_mutex_lock(&s->pool_lock);
            s->mem_malloced -= c->page_bytes;
            pthread_mutex_unlock(&s->pool_lock);
            return false;
        }
    }
    c->pages[c->npages++] = page;
    /* Cut the page into chunks; push in reverse so the first chunk is
     * handed out first. */
    for (unsigned k = c->perslab; k-- > 0;) {
        item_t *it = (item_t *)((char *)page + (size_t)k * c->size);
        it->clsid = (uint8_t)id;
        atomic_init(&it->iflags, ITEM_SLABBED);
        atomic_init(&it->refcount, 0);
        it->next = c->free_list;
        c->free_list = it;
    }
    c->nfree += c->perslab;
    return true;
}

item_t *slabs_alloc(slabs_t *s, unsigned id)
{
    if (id < 1 || id > s->largest)
        return NULL;
    slabclass_t *c = &s->cls[id];
    pthread_mutex_lock(&c->lock);
    if (!c->free_list && !do_slabs_newpage(s, c, id)) {
        pthread_mutex_unlock(&c->lock);
        return NULL;
    }
    item_t *it = c->free_list;
    c->free_list = it->next;
    c->nfree--;
    pthread_mutex_unlock(&c->lock);
    it->next = it->prev = it->h_next = NULL;
    atomic_store_explicit(&it->iflags, 0, memory_order_relaxed);
    atomic_store_explicit(&it->refcount, 1, memory_order_relaxed);
    return it;
}

void slabs_free(slabs_t *s, item_t *it)
{
    slabclass_t *c = &s->cls[it->clsid];
    atomic_store_explicit(&it->iflags, ITEM_SLABBED, memory_order_relaxed);
    it->prev = it->h_next = NULL;
    pthread_mutex_lock(&c->lock);
    it->next = c->free_list;
    c->free_list = it;
    c->nfree++;
    pthread_mutex_unlock(&c->lock);
}

void slabs_class_info(slabs_t *s, unsigned id, slabs_class_info_t *out)
{
    memset(out, 0, sizeof *out);
    if (id < 1 || id > s->largest)
        return;
    slabclass_t *c = &s->cls[id];
    pthread_mutex_lock(&c->lock);
    out->chunk_size = c->size;
    out->perslab = c->perslab;
    out->total_pages = c->npages;
    out->total_chunks = c->npages * c->perslab;
    out->free_chunks = c->nfree;
    pthread_mutex_unlock(&c->lock);
}

size_t slabs_total_malloced(slabs_t *s)
{
    pthread_mutex_lock(&s->pool_lock);
    size_t v = s->mem_malloced;
    pthread_mutex_unlock(&s->pool_lock);
    return v;
}

size_t slabs_pool_pages(slabs_t *s)
{
    pthread_mutex_lock(&s->pool_lock);
    size_t v = s->npool;
    pthread_mutex_unlock(&s->pool_lock);
    return v;
}
