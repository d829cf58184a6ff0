/*
 * tests/unit/flash/test_journal.c - kill journal pages (journal.h): round
 * trip of kills and EXTEND records, a full page, an EXTEND never split,
 * the dedupe window, a version-1 page, every header byte and every used
 * payload byte damaged, another checkpoint's or page number's page refused.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <xxhash.h>

#include "flash/format.h"
#include "flash/journal.h"

#define INST 0xabcdef0123456789ull
#define K 0x9E3779B97F4A7C15ull

Test(journal, round_trip_and_full)
{
    uint8_t b[FLASH_JPAGE];
    flash_jpage_init(b, INST, 77, 3);
    flash_jpage_t p;
    cr_assert(flash_jpage_decode(b, INST, 77, 3, &p));
    cr_assert_eq(p.count, 0);
    cr_assert(!flash_jpage_add(b, 0), "hash 0 is the EXTEND mark");
    for (uint64_t i = 1; i <= FLASH_JPAGE_MAX; i++)
        cr_assert(flash_jpage_add(b, i * K));
    cr_assert(!flash_jpage_add(b, 1), "a full page takes no more");
    cr_assert(flash_jpage_has(b, 0, 7 * K));
    cr_assert(!flash_jpage_has(b, 0, 3));
    cr_assert(!flash_jpage_has(b, 8, 7 * K), "before the window");
    cr_assert(flash_jpage_decode(b, INST, 77, 3, &p));
    cr_assert_eq(p.count, FLASH_JPAGE_MAX);
    uint32_t pos = 0, n = 0;
    flash_jent_t e;
    while (flash_jpage_next(&p, &pos, &e)) {
        n++;
        cr_assert_eq(e.kind, FLASH_JENT_KILL);
        cr_assert_eq(e.hash, n * K);
    }
    cr_assert_eq(n, FLASH_JPAGE_MAX);
    cr_assert(!flash_jpage_decode(b, INST, 78, 3, &p), "another checkpoint's");
    cr_assert(!flash_jpage_decode(b, INST, 77, 4, &p), "another page number");
    cr_assert(!flash_jpage_decode(b, INST + 1, 77, 3, &p), "another instance");
}

Test(journal, extend_records)
{
    uint8_t b[FLASH_JPAGE];
    flash_jpage_init(b, INST, 5, 0);
    cr_assert(flash_jpage_add(b, 11));
    cr_assert(flash_jpage_add_extend(b, 123456789012ull, 4097, 0xfedcba98u));
    cr_assert(flash_jpage_add(b, 12));
    flash_jpage_t p;
    cr_assert(flash_jpage_decode(b, INST, 5, 0, &p));
    cr_assert_eq(p.count, 5);
    uint32_t pos = 0;
    flash_jent_t e;
    cr_assert(flash_jpage_next(&p, &pos, &e));
    cr_assert(e.kind == FLASH_JENT_KILL && e.hash == 11);
    cr_assert(flash_jpage_next(&p, &pos, &e));
    cr_assert_eq(e.kind, FLASH_JENT_EXTEND);
    cr_assert_eq(e.seq, 123456789012ull);
    cr_assert_eq(e.seg, 4097);
    cr_assert_eq(e.gen, 0xfedcba98u);
    cr_assert(flash_jpage_next(&p, &pos, &e));
    cr_assert(e.kind == FLASH_JENT_KILL && e.hash == 12);
    cr_assert(!flash_jpage_next(&p, &pos, &e));
    /* an EXTEND is never split over two pages */
    flash_jpage_init(b, INST, 5, 1);
    for (uint64_t i = 1; i <= FLASH_JPAGE_MAX - 2; i++)
        cr_assert(flash_jpage_add(b, i));
    cr_assert(!flash_jpage_add_extend(b, 1, 2, 3));
    cr_assert(flash_jpage_add(b, 99999));
    cr_assert_eq(flash_jpage_count(b), FLASH_JPAGE_MAX - 1);
}

/* A page of format 4's first build (version 1): every word a kill. */
Test(journal, version_1_page)
{
    uint8_t b[FLASH_JPAGE];
    flash_jpage_init(b, INST, 9, 0);
    flash_jpage_add(b, 1000);
    flash_jpage_add(b, 1001);
    fl_put_u64(b + FLASH_JPAGE_HDR + 8, 0); /* a zero word: a kill there */
    fl_put_u32(b + 4, 1);
    fl_put_u64(b + 32, XXH3_64bits_withSeed(b + FLASH_JPAGE_HDR, 16, XXH3_64bits(b, 32)));
    flash_jpage_t p;
    cr_assert(flash_jpage_decode(b, INST, 9, 0, &p));
    uint32_t pos = 0;
    flash_jent_t e;
    cr_assert(flash_jpage_next(&p, &pos, &e) && e.kind == FLASH_JENT_KILL && e.hash == 1000);
    cr_assert(flash_jpage_next(&p, &pos, &e) && e.kind == FLASH_JENT_KILL && e.hash == 0);
    cr_assert(!flash_jpage_next(&p, &pos, &e));
}

Test(journal, every_byte_damaged)
{
    uint8_t b[FLASH_JPAGE];
    flash_jpage_init(b, INST, 9, 0);
    for (uint64_t i = 0; i < 40; i++)
        flash_jpage_add(b, i + 1000);
    flash_jpage_add_extend(b, 77, 3, 4);
    size_t used = FLASH_JPAGE_HDR + 43 * 8;
    for (size_t i = 0; i < used; i++) {
        b[i] ^= 0x20;
        flash_jpage_t p;
        cr_assert(!flash_jpage_decode(b, INST, 9, 0, &p), "byte %zu", i);
        b[i] ^= 0x20;
    }
    flash_jpage_t p;
    cr_assert(flash_jpage_decode(b, INST, 9, 0, &p));
    memset(b, 0, sizeof b); /* never written */
    cr_assert(!flash_jpage_decode(b, INST, 9, 0, &p));
}
