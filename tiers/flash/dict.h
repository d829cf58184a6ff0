/*
 * tiers/flash/dict.h - zstd dictionaries for flash blocks.
 *
 * A dictionary gives every small block the history a lone block lacks
 * (format.h "DICTIONARY SLOT" has the measurements and the on-disk slot).
 * Three pieces:
 * - flash_dict_t: one dictionary, immutable once created: its content, a
 *   ZSTD_CDict for the writer and a ZSTD_DDict that readers on any thread
 *   share (zstd allows concurrent use of one DDict / CDict, read-only).
 * - flash_dicts_t: the set a store encodes and decodes with: one pointer per
 *   on-disk slot, published once (release) and read with acquire, plus the
 *   slot new blocks use. Freed only when the store is destroyed, so a
 *   reader's pointer never dangles.
 * - the slot codec: encode / decode of format.h's slot bytes.
 * Training from samples is dict_train.h.
 *
 * No globals, no locks: atomics in flash_dicts_t are the only shared state.
 */
#ifndef TIERCACHE_FLASH_DICT_H
#define TIERCACHE_FLASH_DICT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "flash/format.h"

typedef enum flash_dict_status {
    FLASH_DICT_OK = 0,
    FLASH_DICT_EINVAL,      /* bad argument (slot, length, level) */
    FLASH_DICT_ENOMEM,      /* allocation or zstd context creation failed */
    FLASH_DICT_ETRAIN,      /* zstd could not train on the samples */
    FLASH_DICT_EEMPTY,      /* slot decode: never written (no magic) */
    FLASH_DICT_EHEADER,     /* slot decode: version, lengths, instance id */
    FLASH_DICT_ECHECKSUM,   /* slot decode: header or content checksum */
    FLASH_DICT_ECONTENT,    /* content is not a zstd dictionary / id differs */
} flash_dict_status_e;

/* One dictionary. Every field is fixed once created. */
typedef struct flash_dict {
    unsigned slot;           /* 0 .. FLASH_DICT_SLOTS - 1 */
    uint32_t id;             /* zstd dictionary id of the content (not 0) */
    uint32_t len;            /* content bytes, 1 .. FLASH_DICT_MAX */
    uint32_t samples;        /* what it was trained on (0 if unknown) */
    uint32_t sample_bytes;
    uint64_t created;        /* unix seconds */
    uint8_t *content;
    ZSTD_CDict *cdict;       /* NULL when created for decoding only */
    ZSTD_DDict *ddict;
} flash_dict_t;

/* The dictionaries of one store. */
typedef struct flash_dicts {
    _Atomic(flash_dict_t *) slot[FLASH_DICT_SLOTS];
    _Atomic(flash_dict_t *) active;   /* what new blocks use; NULL = none */
} flash_dicts_t;

/* Static string for a status; never NULL. */
const char *flash_dict_strerror(flash_dict_status_e st);

/*
 * Creates a dictionary for `slot` from a copy of content[0..len) (a zstd
 * dictionary, e.g. from flash_dict_train). With level != FLASH_LEVEL_NONE
 * (block.h) it also builds the CDict at that zstd level; otherwise the
 * dictionary only decodes. Fails: FLASH_DICT_EINVAL (slot, len 0 or >
 * FLASH_DICT_MAX), FLASH_DICT_ECONTENT (no zstd dictionary id in it),
 * FLASH_DICT_ENOMEM. On failure *out is NULL. Work: digesting the
 * dictionary, ~ a few hundred microseconds for 64 KiB.
 */
flash_dict_status_e flash_dict_create(flash_dict_t **out, unsigned slot,
                                      const void *content, size_t len, int level,
                                      uint64_t created);

/* Frees the dictionary and sets *d to NULL; NULL or *d NULL is a no-op. */
void flash_dict_destroy(flash_dict_t **d);

/* An empty set (nothing published). */
void flash_dicts_init(flash_dicts_t *set);

/* Frees every published dictionary. Only when no thread can use the set. */
void flash_dicts_teardown(flash_dicts_t *set);

/*
 * Publishes d in its slot (the set takes ownership) and, if `activate`,
 * makes it the one new blocks use. The slot must be empty (a published
 * dictionary is never replaced while the set lives): FLASH_DICT_EINVAL,
 * and d is left to the caller. Release ordering: a thread that sees the
 * pointer sees the whole dictionary.
 */
flash_dict_status_e flash_dicts_publish(flash_dicts_t *set, flash_dict_t *d, bool activate);

/* The dictionary in `slot`, or NULL (empty slot, slot out of range, set
 * NULL). Acquire ordering. O(1). */
const flash_dict_t *flash_dicts_slot(const flash_dicts_t *set, unsigned slot);

/* The dictionary new blocks use, or NULL (none, or set NULL). O(1). */
const flash_dict_t *flash_dicts_active(const flash_dicts_t *set);

/* Bytes the set's dictionaries hold (content + zstd's digested forms). */
size_t flash_dicts_bytes(const flash_dicts_t *set);

/*
 * Encodes d as format.h's slot into buf, which must hold
 * FLASH_DICT_HDR_LEN + d->len bytes (FLASH_DICT_SLOT_SIZE always does):
 * header, zeros to FLASH_DICT_HDR_LEN, content. O(len).
 */
void flash_dict_slot_encode(const flash_dict_t *d, uint64_t instance_id, uint8_t *buf);

/*
 * Decodes the slot bytes at buf (len available) that must belong to
 * `slot` of the device with `instance_id`, and creates the dictionary
 * (flash_dict_create with `level`). Fails: FLASH_DICT_EEMPTY (no magic, or
 * fewer than FLASH_DICT_HDR_LEN bytes: the slot was never written), FLASH_DICT_EHEADER (version, lengths, instance
 * id), FLASH_DICT_ECHECKSUM, FLASH_DICT_ECONTENT (the id in the header is
 * not the content's), FLASH_DICT_ENOMEM. Never reads past len.
 */
flash_dict_status_e flash_dict_slot_decode(const uint8_t *buf, size_t len,
                                           unsigned slot, uint64_t instance_id,
                                           int level, flash_dict_t **out);

#endif /* TIERCACHE_FLASH_DICT_H */
