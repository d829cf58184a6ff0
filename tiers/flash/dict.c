/*
 * tiers/flash/dict.c - zstd dictionaries, their set and their on-disk slot.
 * See dict.h; the slot's bytes are drawn in format.h.
 */
#include "flash/dict.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zdict.h>

#include "flash/block.h"

const char *flash_dict_strerror(flash_dict_status_e st)
{
    switch (st) {
    case FLASH_DICT_OK: return "ok";
    case FLASH_DICT_EINVAL: return "invalid argument";
    case FLASH_DICT_ENOMEM: return "out of memory";
    case FLASH_DICT_ETRAIN: return "zstd could not train a dictionary on the samples";
    case FLASH_DICT_EEMPTY: return "dictionary slot never written";
    case FLASH_DICT_EHEADER: return "dictionary slot header invalid";
    case FLASH_DICT_ECHECKSUM: return "dictionary slot checksum mismatch";
    case FLASH_DICT_ECONTENT: return "not a zstd dictionary";
    }
    return "unknown dictionary status";
}

flash_dict_status_e flash_dict_create(flash_dict_t **out, unsigned slot,
                                      const void *content, size_t len, int level,
                                      uint64_t created)
{
    *out = NULL;
    if (slot >= FLASH_DICT_SLOTS || len == 0 || len > FLASH_DICT_MAX || !content)
        return FLASH_DICT_EINVAL;
    unsigned id = ZDICT_getDictID(content, len);
    if (id == 0)
        return FLASH_DICT_ECONTENT;
    flash_dict_t *d = calloc(1, sizeof *d);
    if (!d)
        return FLASH_DICT_ENOMEM;
    d->slot = slot;
    d->id = id;
    d->len = (uint32_t)len;
    d->created = created;
    d->content = malloc(len);
    if (!d->content)
        goto nomem;
    memcpy(d->content, content, len);
    d->ddict = ZSTD_createDDict(d->content, len);
    if (!d->ddict)
        goto nomem;
    if (level != FLASH_LEVEL_NONE) {
        d->cdict = ZSTD_createCDict(d->content, len, level);
        if (!d->cdict)
            goto nomem;
    }
    *out = d;
    return FLASH_DICT_OK;
nomem:
    flash_dict_destroy(&d);
    return FLASH_DICT_ENOMEM;
}

void flash_dict_destroy(flash_dict_t **dp)
{
    if (!dp || !*dp)
        return;
    flash_dict_t *d = *dp;
    ZSTD_freeCDict(d->cdict);
    ZSTD_freeDDict(d->ddict);
    free(d->content);
    free(d);
    *dp = NULL;
}

void flash_dicts_init(flash_dicts_t *set)
{
    for (unsigned i = 0; i < FLASH_DICT_SLOTS; i++)
        atomic_init(&set->slot[i], NULL);
    atomic_init(&set->active, NULL);
}

void flash_dicts_teardown(flash_dicts_t *set)
{
    atomic_store(&set->active, NULL);
    for (unsigned i = 0; i < FLASH_DICT_SLOTS; i++) {
        flash_dict_t *d = atomic_exchange(&set->slot[i], NULL);
        flash_dict_destroy(&d);
    }
}

flash_dict_status_e flash_dicts_publish(flash_dicts_t *set, flash_dict_t *d, bool activate)
{
    if (!d || d->slot >= FLASH_DICT_SLOTS)
        return FLASH_DICT_EINVAL;
    flash_dict_t *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(&set->slot[d->slot], &none, d,
                                                 memory_order_release, memory_order_relaxed))
        return FLASH_DICT_EINVAL;
    if (activate)
        atomic_store_explicit(&set->active, d, memory_order_release);
    return FLASH_DICT_OK;
}

const flash_dict_t *flash_dicts_slot(const flash_dicts_t *set, unsigned slot)
{
    if (!set || slot >= FLASH_DICT_SLOTS)
        return NULL;
    return atomic_load_explicit(&((flash_dicts_t *)set)->slot[slot], memory_order_acquire);
}

const flash_dict_t *flash_dicts_active(const flash_dicts_t *set)
{
    if (!set)
        return NULL;
    return atomic_load_explicit(&((flash_dicts_t *)set)->active, memory_order_acquire);
}

size_t flash_dicts_bytes(const flash_dicts_t *set)
{
    size_t n = 0;
    for (unsigned i = 0; i < FLASH_DICT_SLOTS; i++) {
        const flash_dict_t *d = flash_dicts_slot(set, i);
        if (d)
            n += d->len + ZSTD_sizeof_DDict(d->ddict) + ZSTD_sizeof_CDict(d->cdict);
    }
    return n;
}

void flash_dict_slot_encode(const flash_dict_t *d, uint64_t instance_id, uint8_t *b)
{
    memset(b, 0, FLASH_DICT_HDR_LEN);
    memcpy(b, FLASH_DICT_MAGIC, 4);
    fl_put_u32(b + 4, FLASH_DICT_VERSION);
    fl_put_u64(b + 8, instance_id);
    fl_put_u32(b + 16, d->id);
    fl_put_u32(b + 20, d->len);
    fl_put_u64(b + 24, d->created);
    fl_put_u32(b + 32, d->samples);
    fl_put_u32(b + 36, d->sample_bytes);
    fl_put_u64(b + 40, (uint64_t)XXH3_64bits(d->content, d->len));
    fl_put_u64(b + FLASH_DICT_HDR_CKSUM_OFF, (uint64_t)XXH3_64bits(b, FLASH_DICT_HDR_CKSUM_OFF));
    memcpy(b + FLASH_DICT_HDR_LEN, d->content, d->len);
}

flash_dict_status_e flash_dict_slot_decode(const uint8_t *b, size_t len,
                                           unsigned slot, uint64_t instance_id,
                                           int level, flash_dict_t **out)
{
    *out = NULL;
    if (slot >= FLASH_DICT_SLOTS)
        return FLASH_DICT_EINVAL;
    if (len < FLASH_DICT_HDR_LEN || memcmp(b, FLASH_DICT_MAGIC, 4) != 0)
        return FLASH_DICT_EEMPTY;
    if (fl_get_u64(b + FLASH_DICT_HDR_CKSUM_OFF) != (uint64_t)XXH3_64bits(b, FLASH_DICT_HDR_CKSUM_OFF))
        return FLASH_DICT_ECHECKSUM;
    uint32_t clen = fl_get_u32(b + 20);
    if (fl_get_u32(b + 4) != FLASH_DICT_VERSION || fl_get_u64(b + 8) != instance_id ||
        clen == 0 || clen > FLASH_DICT_MAX || clen > len - FLASH_DICT_HDR_LEN)
        return FLASH_DICT_EHEADER;
    const uint8_t *content = b + FLASH_DICT_HDR_LEN;
    if (fl_get_u64(b + 40) != (uint64_t)XXH3_64bits(content, clen))
        return FLASH_DICT_ECHECKSUM;
    if (ZDICT_getDictID(content, clen) != fl_get_u32(b + 16))
        return FLASH_DICT_ECONTENT;
    flash_dict_t *d;
    flash_dict_status_e st = flash_dict_create(&d, slot, content, clen, level, fl_get_u64(b + 24));
    if (st != FLASH_DICT_OK)
        return st;
    d->samples = fl_get_u32(b + 32);
    d->sample_bytes = fl_get_u32(b + 36);
    *out = d;
    return FLASH_DICT_OK;
}
