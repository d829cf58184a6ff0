/*
 * tiers/ram/slabs.c - slab classes, pages and chunks. See slabs.h.
 *
 * Lock order: slabs_t.move_lock -> slabclass_t.lock -> slabs_t.pool_lock;
 * one class lock at a time (see slabs.h for the stripe/LRU side).
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
    pthread_mutex_init(&s->move_lock, NULL);

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
    s->reassign_largest = item_size_max > chunk_max ? i - 1 : i;
    for (unsigned id = 1; id <= s->largest; id++)
        pthread_mutex_init(&s->cls[id].lock, NULL);

    if (prealloc && mem_limit > 0) {
        size_t n = mem_limit / page_size;
        s->pool = calloc(n ? n : 1, sizeof(void *));
        s->pool_cap = n ? n : 1;
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
    s->pool_cap = 0;
    s->largest = 0;
    pthread_mutex_destroy(&s->pool_lock);
    pthread_mutex_destroy(&s->move_lock);
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

/* Caller holds c->lock. Cuts `page` into chunks of class c; pushes them in
 * reverse so the first chunk is handed out first. */
static void do_slabs_carve(slabclass_t *c, unsigned id, void *page)
{
    for (unsigned k = c->perslab; k-- > 0;) {
        item_t *it = (item_t *)((char *)page + (size_t)k * c->size);
        it->clsid = (uint8_t)id;
        atomic_init(&it->iflags, ITEM_SLABBED);
        atomic_init(&it->refcount, 0);
        it->next = c->free_list;
        c->free_list = it;
    }
    c->nfree += c->perslab;
}

/* Caller holds c->lock. Room for one more page pointer. */
static bool do_pages_grow(slabs_t *s, slabclass_t *c)
{
    if (c->npages < c->pages_cap)
        return true;
    size_t cap = c->pages_cap ? c->pages_cap * 2 : 16;
    void **np = realloc(c->pages, cap * sizeof(void *));
    if (!np) {
        atomic_fetch_add_explicit(&s->malloc_fails, 1, memory_order_relaxed);
        return false;
    }
    c->pages = np;
    c->pages_cap = cap;
    return true;
}

/* Caller holds c->lock. Gets a page for class c, or returns false. */
static bool do_slabs_newpage(slabs_t *s, slabclass_t *c, unsigned id)
{
    void *page = NULL;
    bool first = c->npages == 0;

    if (!do_pages_grow(s, c))
        return false;
    pthread_mutex_lock(&s->pool_lock);
    if (c->page_bytes == s->page_size && s->npool_counted > 0) {
        /* a page moved to the pool: already counted */
        page = s->pool[--s->npool];
        s->npool_counted--;
        pthread_mutex_unlock(&s->pool_lock);
        goto carve;
    }
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
carve:
    c->pages[c->npages++] = page;
    do_slabs_carve(c, id, page);
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
    /* SLABBED leaves under the lock: the page mover reads it there */
    atomic_store_explicit(&it->iflags, 0, memory_order_relaxed);
    atomic_store_explicit(&it->refcount, 1, memory_order_relaxed);
    pthread_mutex_unlock(&c->lock);
    it->next = it->prev = it->h_next = NULL;
    return it;
}

item_t *slabs_alloc_free(slabs_t *s, unsigned id)
{
    if (id < 1 || id > s->largest)
        return NULL;
    slabclass_t *c = &s->cls[id];
    pthread_mutex_lock(&c->lock);
    item_t *it = c->free_list;
    if (it) {
        c->free_list = it->next;
        c->nfree--;
        atomic_store_explicit(&it->iflags, 0, memory_order_relaxed);
        atomic_store_explicit(&it->refcount, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&c->lock);
    if (!it)
        return NULL;
    it->next = it->prev = it->h_next = NULL;
    return it;
}

static inline bool in_page(const slabclass_t *c, const void *p)
{
    return c->mv_page && (const char *)p >= c->mv_page &&
           (const char *)p < c->mv_page + c->page_bytes;
}

void slabs_free(slabs_t *s, item_t *it)
{
    slabclass_t *c = &s->cls[it->clsid];
    it->prev = it->h_next = NULL;
    pthread_mutex_lock(&c->lock);
    /* SLABBED is set under the class lock: the mover reads it there */
    atomic_store_explicit(&it->iflags, ITEM_SLABBED, memory_order_relaxed);
    if (in_page(c, it)) {
        c->mv_claimed++; /* kept aside: its page is being moved */
        it->next = NULL;
        pthread_mutex_unlock(&c->lock);
        return;
    }
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
    out->page_bytes = c->page_bytes;
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

/* ---- page moves ---- */

/* Caller holds pool_lock. Room for one more pool page. */
static bool do_pool_grow(slabs_t *s)
{
    if (s->npool < s->pool_cap)
        return true;
    size_t cap = s->pool_cap ? s->pool_cap * 2 : 16;
    void **np = realloc(s->pool, cap * sizeof(void *));
    if (!np)
        return false;
    s->pool = np;
    s->pool_cap = cap;
    return true;
}

static bool movable(const slabs_t *s, unsigned id)
{
    return id >= 1 && id <= s->reassign_largest && s->cls[id].page_bytes == s->page_size;
}

/* Claims the first page of class src (see slabs_move_begin). */
static slabs_status_e do_claim_page(slabs_t *s, unsigned src, char **page)
{
    slabclass_t *c = &s->cls[src];
    pthread_mutex_lock(&c->lock);
    if (c->npages < 2 || c->mv_page) {
        pthread_mutex_unlock(&c->lock);
        return SLABS_NOSPARE;
    }
    /* memcached takes the first page; so do we */
    c->mv_page = c->pages[0];
    c->mv_claimed = 0;
    item_t **pp = &c->free_list;
    while (*pp) {
        item_t *it = *pp;
        if (in_page(c, it)) {
            *pp = it->next;
            it->next = NULL;
            c->nfree--;
            c->mv_claimed++;
        } else {
            pp = &it->next;
        }
    }
    *page = c->mv_page;
    pthread_mutex_unlock(&c->lock);
    return SLABS_OK;
}

slabs_status_e slabs_move_begin(slabs_t *s, unsigned src, char **page)
{
    *page = NULL;
    if (src == 0) {
        pthread_mutex_lock(&s->pool_lock);
        size_t n = s->npool;
        pthread_mutex_unlock(&s->pool_lock);
        return n < 2 ? SLABS_NOSPARE : SLABS_OK;
    }
    if (!movable(s, src))
        return SLABS_EINVAL;
    return do_claim_page(s, src, page);
}

bool slabs_move_ready(slabs_t *s, unsigned src)
{
    if (src == 0)
        return true;
    slabclass_t *c = &s->cls[src];
    pthread_mutex_lock(&c->lock);
    bool ok = c->mv_page && c->mv_claimed == c->perslab;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

void slabs_move_abort(slabs_t *s, unsigned src)
{
    if (src == 0)
        return;
    slabclass_t *c = &s->cls[src];
    pthread_mutex_lock(&c->lock);
    char *page = c->mv_page;
    c->mv_page = NULL;
    for (unsigned k = 0; page && k < c->perslab; k++) {
        item_t *it = (item_t *)(page + (size_t)k * c->size);
        if (atomic_load_explicit(&it->iflags, memory_order_relaxed) & ITEM_SLABBED) {
            it->next = c->free_list;
            c->free_list = it;
            c->nfree++;
        }
    }
    c->mv_claimed = 0;
    pthread_mutex_unlock(&c->lock);
}

slabs_status_e slabs_move_finish(slabs_t *s, unsigned src, unsigned dst)
{
    char *page = NULL;
    if (src == 0) {
        pthread_mutex_lock(&s->pool_lock);
        if (s->npool > 0) {
            page = s->pool[--s->npool];
            if (s->npool_counted > 0) {
                s->npool_counted--;
            } else {
                s->mem_malloced += s->page_size; /* a preallocated page */
            }
        }
        pthread_mutex_unlock(&s->pool_lock);
        if (!page)
            return SLABS_NOSPARE;
    } else {
        slabclass_t *c = &s->cls[src];
        pthread_mutex_lock(&c->lock);
        page = c->mv_page;
        for (size_t k = 0; k < c->npages; k++) {
            if (c->pages[k] == page) {
                c->pages[k] = c->pages[--c->npages];
                break;
            }
        }
        c->mv_page = NULL;
        c->mv_claimed = 0;
        pthread_mutex_unlock(&c->lock);
    }
    slabs_status_e st = SLABS_OK;
    if (dst != 0) {
        slabclass_t *d = &s->cls[dst];
        pthread_mutex_lock(&d->lock);
        if (do_pages_grow(s, d)) {
            d->pages[d->npages++] = page;
            do_slabs_carve(d, dst, page);
            page = NULL;
        } else {
            st = SLABS_ENOMEM;
        }
        pthread_mutex_unlock(&d->lock);
    }
    if (page) {
        pthread_mutex_lock(&s->pool_lock);
        if (do_pool_grow(s)) {
            s->pool[s->npool++] = page;
            s->npool_counted++;
        } else {
            /* cannot even keep it: give the memory back */
            s->mem_malloced -= s->page_size;
            free(page);
            st = SLABS_ENOMEM;
        }
        pthread_mutex_unlock(&s->pool_lock);
    }
    atomic_fetch_add_explicit(&s->slabs_moved, 1, memory_order_relaxed);
    return st;
}

int slabs_pick_any(slabs_t *s, unsigned dst)
{
    unsigned n = s->reassign_largest;
    for (unsigned i = 0; i < n; i++) {
        s->pick_cursor = s->pick_cursor % n + 1;
        unsigned id = s->pick_cursor;
        if (id == dst || !movable(s, id))
            continue;
        pthread_mutex_lock(&s->cls[id].lock);
        bool ok = s->cls[id].npages > 1;
        pthread_mutex_unlock(&s->cls[id].lock);
        if (ok)
            return (int)id;
    }
    return -1;
}

/* ---- the memory limit at run time ---- */

size_t slabs_mem_limit(slabs_t *s)
{
    pthread_mutex_lock(&s->pool_lock);
    size_t v = s->mem_limit;
    pthread_mutex_unlock(&s->pool_lock);
    return v;
}

void slabs_mem_limit_set(slabs_t *s, size_t limit)
{
    pthread_mutex_lock(&s->pool_lock);
    s->mem_limit = limit;
    pthread_mutex_unlock(&s->pool_lock);
    slabs_pool_release(s);
}

size_t slabs_pool_release(slabs_t *s)
{
    size_t n = 0;
    pthread_mutex_lock(&s->pool_lock);
    while (s->mem_limit && s->mem_malloced > s->mem_limit && s->npool_counted > 0 &&
           s->npool > 0) {
        /* pool pages are alike: any of them stands for a counted one */
        free(s->pool[--s->npool]);
        s->npool_counted--;
        s->mem_malloced -= s->page_size;
        n++;
    }
    pthread_mutex_unlock(&s->pool_lock);
    return n;
}

slabs_status_e slabs_release_begin(slabs_t *s, unsigned src, char **page)
{
    *page = NULL;
    if (src < 1 || src > s->largest)
        return SLABS_EINVAL;
    return do_claim_page(s, src, page);
}

void slabs_release_finish(slabs_t *s, unsigned src)
{
    slabclass_t *c = &s->cls[src];
    pthread_mutex_lock(&c->lock);
    char *page = c->mv_page;
    for (size_t k = 0; page && k < c->npages; k++) {
        if (c->pages[k] == page) {
            c->pages[k] = c->pages[--c->npages];
            break;
        }
    }
    c->mv_page = NULL;
    c->mv_claimed = 0;
    size_t bytes = c->page_bytes;
    pthread_mutex_unlock(&c->lock);
    if (!page)
        return;
    free(page);
    pthread_mutex_lock(&s->pool_lock);
    s->mem_malloced -= bytes;
    pthread_mutex_unlock(&s->pool_lock);
}
