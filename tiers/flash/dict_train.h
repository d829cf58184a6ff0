/*
 * tiers/flash/dict_train.h - training the flash dictionary from the first
 * spilled records, off the writer thread.
 *
 * The writer offers each record it spills (key + value) until the sample
 * buffer is full; the trainer then runs zstd's trainer (ZDICT, fastcover)
 * ONCE on its own thread (about 0.1 s of CPU for 1 MiB of samples, measured
 * with `zstd --train`), and hands the result to a callback on that thread.
 * The store's callback writes the dictionary slot to the device and only
 * then publishes it, so no block names a dictionary the device lacks.
 * Until then blocks are compressed without a dictionary (codec 1).
 *
 * Why once: the first megabyte of a workload's values is what the cache is
 * asked to keep, and a retrained dictionary needs its own slot and a way to
 * retire the old one (format.h reserves slot 1 for that; not built).
 *
 * Threads: offer() and create/destroy from one thread (the writer); the
 * callback runs on the trainer thread. No globals.
 */
#ifndef TIERCACHE_FLASH_DICT_TRAIN_H
#define TIERCACHE_FLASH_DICT_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flash/dict.h"

/* Called once, on the trainer thread, with the trained dictionary (the
 * callee owns it) and FLASH_DICT_OK, or with NULL and why training failed. */
typedef void (*flash_dict_ready_fn)(void *arg, flash_dict_t *d, flash_dict_status_e st);

typedef struct flash_dict_train_cfg {
    size_t dict_max;         /* content bytes, <= FLASH_DICT_MAX */
    size_t sample_bytes;     /* train once this much was offered */
    unsigned max_samples;    /* ... or this many samples (whichever first) */
    size_t sample_max;       /* one sample is cut to this many bytes */
    unsigned sample_stride;  /* takes the 1st, (1+stride)th, ... offer (>= 1) */
    unsigned slot;           /* the slot the dictionary is for */
    int level;               /* zstd level of its CDict (block.h) */
    flash_dict_ready_fn ready;
    void *arg;
} flash_dict_train_cfg_t;

typedef struct flash_dict_trainer flash_dict_trainer_t;

/* Defaults: 64 KiB dictionary, 1 MiB or 16384 samples, 16 KiB per sample,
 * one offer in FLASH_DICT_SAMPLE_STRIDE taken. Why a stride: evictions come
 * in runs of one slab class (an allocation short of memory spills up to
 * TIER_SPILL_AHEAD x 10 items of its class before it waits), so the first
 * MiB of spills can hold values of one or two sizes only; a dictionary
 * trained on them took 24% more device bytes after a JSON load
 * (bench/RESULTS.md, issue 14 item 3). Taking one in 8 spreads the samples
 * over the first ~8 MiB spilled. */
#define FLASH_DICT_SAMPLE_STRIDE 8u

void flash_dict_train_cfg_default(flash_dict_train_cfg_t *cfg);

/*
 * Creates a trainer (allocates cfg->sample_bytes + the sample table, freed
 * by the training thread when it is done; no thread yet). Fails: FLASH_DICT_EINVAL (sizes or stride 0, dict_max >
 * FLASH_DICT_MAX, sample_bytes < 8 * dict_max: zstd needs far more sample
 * than dictionary), FLASH_DICT_ENOMEM. On failure *out is NULL.
 */
flash_dict_status_e flash_dict_trainer_create(flash_dict_trainer_t **out,
                                              const flash_dict_train_cfg_t *cfg);

/*
 * Offers one sample: the bytes a[0..na) then b[0..nb) (key, value), cut to
 * cfg.sample_max; only one offer in cfg.sample_stride is taken (the others
 * return true and copy nothing). When the buffer fills, starts the training thread and
 * from then on returns false (the caller may stop offering). O(sample).
 */
bool flash_dict_trainer_offer(flash_dict_trainer_t *t, const void *a, size_t na,
                              const void *b, size_t nb);

/* Bytes the trainer holds for its samples and will use to train on them
 * (fastCover's tables and a CCtx: ~4 MiB for the default 1 MiB of samples); 0 once
 * training freed them, or t NULL. Any thread. O(1). */
size_t flash_dict_trainer_bytes(const flash_dict_trainer_t *t);

/* True once training started (offer returned false). Offering thread only. */
bool flash_dict_trainer_started(const flash_dict_trainer_t *t);

/*
 * Waits for a running training to finish (its callback has returned), frees
 * the trainer and sets *t to NULL; NULL or *t NULL is a no-op.
 */
void flash_dict_trainer_destroy(flash_dict_trainer_t **t);

/*
 * Trains a dictionary of at most dict_max bytes for `slot` from n samples
 * laid back to back in samples (sizes[i] bytes each), with a CDict at
 * `level`: synchronous (the trainer thread's work, exposed for tests and
 * tools). Fails: FLASH_DICT_EINVAL, FLASH_DICT_ETRAIN (zstd refused: too
 * few or too small samples), FLASH_DICT_ENOMEM. zstd does train on random
 * bytes (a useless dictionary): blocks stay correct, since a block that
 * does not shrink is stored raw (block.h), so nothing checks the gain.
 */
flash_dict_status_e flash_dict_train(flash_dict_t **out, unsigned slot, const void *samples,
                                     const size_t *sizes, unsigned n, size_t dict_max,
                                     int level, uint64_t now);

#endif /* TIERCACHE_FLASH_DICT_TRAIN_H */
