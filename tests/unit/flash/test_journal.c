/*
 * tests/unit/flash/test_journal.c - kill journal pages (journal.h): round
 * trip, a full page, every header byte and every used payload byte
 * damaged, another checkpoint's or page number's page refused.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "flash/journal.h"

#define INST 0xabcdef0123456789ull

Test(journal, round_trip_and_full)
{
    uint8_t b[FLASH_JPAGE];
    flash_jpage_init(b, INST, 77, 3);
    flash_jpage_t p;
    cr_assert(flash_jpage_decode(b, INST, 77, 3, &p));
    cr_assert_eq(p.count, 0);
    for (uint64_t i = 0; i < FLASH_JPAGE_MAX; i++)
        cr_assert(flash_jpage_add(b, i * 0x9E3779B97F4A7C15ull));
    cr_assert(!flash_jpage_add(b, 1), "a full page takes no more");
    cr_assert(flash_jpage_has(b, 7 * 0x9E3779B97F4A7C15ull));
    cr_assert(!flash_jpage_has(b, 3));
    cr_assert(flash_jpage_decode(b, INST, 77, 3, &p));
    cr_assert_eq(p.count, FLASH_JPAGE_MAX);
    cr_assert_eq(flash_jpage_hash(&p, 5), 5 * 0x9E3779B97F4A7C15ull);
    cr_assert(!flash_jpage_decode(b, INST, 78, 3, &p), "another checkpoint's");
    cr_assert(!flash_jpage_decode(b, INST, 77, 4, &p), "another page number");
    cr_assert(!flash_jpage_decode(b, INST + 1, 77, 3, &p), "another instance");
}

Test(journal, every_byte_damaged)
{
    uint8_t b[FLASH_JPAGE];
    flash_jpage_init(b, INST, 9, 0);
    for (uint64_t i = 0; i < 40; i++)
        flash_jpage_add(b, i + 1000);
    size_t used = FLASH_JPAGE_HDR + 40 * 8;
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
