/*
 * tiers/flash/dict_train.c - the dictionary trainer: sample buffer, one
 * training thread. See dict_train.h.
 */
#define ZDICT_STATIC_LINKING_ONLY /* ZDICT_optimizeTrainFromBuffer_fastCover */
#define ZSTD_STATIC_LINKING_ONLY  /* ZSTD_estimateCCtxSize */
#include "flash/dict_train.h"

#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zdict.h>
#include <zstd.h>

struct flash_dict_trainer {
    flash_dict_train_cfg_t cfg;
    uint8_t *buf;            /* samples back to back */
    size_t used;
    size_t *sizes;
    unsigned n;
    uint64_t offers;         /* offers seen (the stride's count) */
    bool started;            /* sampling over (writer's view) */
    bool joinable;           /* the training thread was created */
    _Atomic bool released;   /* the samples are freed (any thread reads) */
    pthread_t thread;
};

void flash_dict_train_cfg_default(flash_dict_train_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->dict_max = FLASH_DICT_MAX;
    cfg->sample_bytes = 1u << 20;
    cfg->max_samples = 16384;
    cfg->sample_max = 16u << 10;
    cfg->sample_stride = FLASH_DICT_SAMPLE_STRIDE;
}

flash_dict_status_e flash_dict_trainer_create(flash_dict_trainer_t **out,
                                              const flash_dict_train_cfg_t *cfg)
{
    *out = NULL;
    if (cfg->dict_max == 0 || cfg->dict_max > FLASH_DICT_MAX || cfg->max_samples == 0 ||
        cfg->sample_max == 0 || cfg->sample_stride == 0 || cfg->sample_bytes < 8 * cfg->dict_max ||
        cfg->slot >= FLASH_DICT_SLOTS || !cfg->ready)
        return FLASH_DICT_EINVAL;
    flash_dict_trainer_t *t = calloc(1, sizeof *t);
    if (!t)
        return FLASH_DICT_ENOMEM;
    t->cfg = *cfg;
    t->buf = malloc(cfg->sample_bytes);
    t->sizes = calloc(cfg->max_samples, sizeof *t->sizes);
    if (!t->buf || !t->sizes) {
        free(t->buf);
        free(t->sizes);
        free(t);
        return FLASH_DICT_ENOMEM;
    }
    *out = t;
    return FLASH_DICT_OK;
}

/* log2 of fastCover's frequency table for `total` bytes of samples: a
 * quarter as many entries as bytes, 2^16 to 2^20 (zstd's default) */
static unsigned train_f(size_t total)
{
    unsigned f = 16;
    while (f < 20 && ((size_t)1 << (f + 2)) < total)
        f++;
    return f;
}

/* What training takes at its peak, an estimate (heaptrack, 1 MiB of JSON
 * samples: ~3.5 MiB): fastCover's tables (4 B + 4 B + 2 B per table
 * entry), its dictionaries (as big as dict_max) and the level-3 CCtx that
 * finalizes the dictionary */
static size_t train_bytes(size_t total, size_t dict_max)
{
    return ((size_t)1 << train_f(total)) * 10 + 3 * dict_max + ZSTD_estimateCCtxSize(3);
}

flash_dict_status_e flash_dict_train(flash_dict_t **out, unsigned slot, const void *samples,
                                     const size_t *sizes, unsigned n, size_t dict_max,
                                     int level, uint64_t now)
{
    *out = NULL;
    if (dict_max == 0 || dict_max > FLASH_DICT_MAX || n == 0 || slot >= FLASH_DICT_SLOTS)
        return FLASH_DICT_EINVAL;
    void *content = malloc(dict_max);
    if (!content)
        return FLASH_DICT_ENOMEM;
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += sizes[i];
    /* ZDICT_trainFromBuffer's parameters (fastCover, d 8, 4 steps, level
     * 3) but a frequency table sized to the samples: its default 2^20
     * entries (4 MiB, plus 2 MiB per try, ~12 MiB at peak) are for samples
     * of many MiB; 1 MiB of samples gets 2^18 (issue 14 item 5) */
    ZDICT_fastCover_params_t p;
    memset(&p, 0, sizeof p);
    p.d = 8;
    p.steps = 4;
    p.zParams.compressionLevel = 3;
    p.f = train_f(total);
    size_t r = ZDICT_optimizeTrainFromBuffer_fastCover(content, dict_max, samples, sizes, n, &p);
    flash_dict_status_e st;
    if (ZDICT_isError(r)) {
        st = FLASH_DICT_ETRAIN;
    } else {
        st = flash_dict_create(out, slot, content, r, level, now);
        if (st == FLASH_DICT_ECONTENT)
            st = FLASH_DICT_ETRAIN;
        if (st == FLASH_DICT_OK) {
            (*out)->samples = n;
            (*out)->sample_bytes = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
        }
    }
    free(content);
    return st;
}

static void *train_main(void *arg)
{
    flash_dict_trainer_t *t = arg;
    flash_dict_t *d = NULL;
    flash_dict_status_e st = flash_dict_train(&d, t->cfg.slot, t->buf, t->sizes, t->n,
                                              t->cfg.dict_max, t->cfg.level,
                                              (uint64_t)time(NULL));
    t->cfg.ready(t->cfg.arg, d, st);
    /* the samples are of no further use: only this thread touches them now */
    free(t->buf);
    free(t->sizes);
    t->buf = NULL;
    t->sizes = NULL;
    atomic_store(&t->released, true);
#ifdef __GLIBC__
    /* the training's tables were freed into this thread's malloc arena,
     * which glibc keeps resident: give them back (a one-off) */
    malloc_trim(0);
#endif
    return NULL;
}

bool flash_dict_trainer_offer(flash_dict_trainer_t *t, const void *a, size_t na,
                              const void *b, size_t nb)
{
    if (t->started)
        return false;
    if (t->offers++ % t->cfg.sample_stride != 0)
        return true;
    size_t room = t->cfg.sample_bytes - t->used;
    size_t want = na + nb;
    if (want > t->cfg.sample_max)
        want = t->cfg.sample_max;
    if (want > room)
        want = room;
    size_t ca = na < want ? na : want;
    memcpy(t->buf + t->used, a, ca);
    if (want > ca)
        memcpy(t->buf + t->used + ca, b, want - ca);
    t->used += want;
    if (want > 0)
        t->sizes[t->n++] = want;
    if (t->used < t->cfg.sample_bytes && t->n < t->cfg.max_samples)
        return true;
    /* full: train on a thread of its own; the buffer is the thread's now */
    t->started = true;
    if (pthread_create(&t->thread, NULL, train_main, t) == 0) {
        pthread_setname_np(t->thread, "tc-dict-train");
        t->joinable = true;
    } else {
        t->cfg.ready(t->cfg.arg, NULL, FLASH_DICT_ENOMEM);
    }
    return false;
}

size_t flash_dict_trainer_bytes(const flash_dict_trainer_t *t)
{
    if (!t || atomic_load(&((flash_dict_trainer_t *)t)->released))
        return 0;
    return t->cfg.sample_bytes + (size_t)t->cfg.max_samples * sizeof *t->sizes +
           train_bytes(t->cfg.sample_bytes, t->cfg.dict_max);
}

bool flash_dict_trainer_started(const flash_dict_trainer_t *t)
{
    return t->started;
}

void flash_dict_trainer_destroy(flash_dict_trainer_t **tp)
{
    if (!tp || !*tp)
        return;
    flash_dict_trainer_t *t = *tp;
    if (t->joinable)
        pthread_join(t->thread, NULL);
    free(t->buf);
    free(t->sizes);
    free(t);
    *tp = NULL;
}
