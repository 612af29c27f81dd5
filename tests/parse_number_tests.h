/*
 * parse_number_tests.h - the tests of parse_number(), which server.c and
 * client.c each carry (the two programs share no code).  Include it after
 * the program's source, in a file that already includes cmocka.h.
 */
#ifndef PARSE_NUMBER_TESTS_H
#define PARSE_NUMBER_TESTS_H

#include <limits.h>

static void test_parse_number_accepts_zero(void **state)
{
    (void)state;
    unsigned long value = 99;
    assert_int_equal(parse_number("0", 65535, &value), 0);
    assert_int_equal(value, 0);
}

static void test_parse_number_accepts_the_maximum(void **state)
{
    (void)state;
    unsigned long value = 0;
    assert_int_equal(parse_number("65535", 65535, &value), 0);
    assert_int_equal(value, 65535);
}

static void test_parse_number_rejects_one_past_the_maximum(void **state)
{
    (void)state;
    unsigned long value;
    assert_int_equal(parse_number("65536", 65535, &value), -1);
}

static void test_parse_number_rejects_overflow_of_unsigned_long(void **state)
{
    (void)state;
    unsigned long value;
    /* 2^64: strtoul saturates and sets ERANGE, even with no maximum. */
    assert_int_equal(parse_number("18446744073709551616", ULONG_MAX, &value), -1);
}

static void test_parse_number_reads_leading_zeros_as_decimal(void **state)
{
    (void)state;
    unsigned long value = 0;
    assert_int_equal(parse_number("010", 65535, &value), 0);
    assert_int_equal(value, 10);
}

static void test_parse_number_rejects_anything_but_plain_digits(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "abc", "-1", "+7", " 7", "7 ",
                                      "12x", "0x10", "1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned long value;
        if (parse_number(bad[i], 65535, &value) != -1)
            fail_msg("parse_number accepted '%s'", bad[i]);
    }
}

/* For the program's table of tests; TEST is its setup/teardown wrapper. */
#define PARSE_NUMBER_TESTS                                              \
    TEST(test_parse_number_accepts_zero),                               \
    TEST(test_parse_number_accepts_the_maximum),                        \
    TEST(test_parse_number_rejects_one_past_the_maximum),               \
    TEST(test_parse_number_rejects_overflow_of_unsigned_long),          \
    TEST(test_parse_number_reads_leading_zeros_as_decimal),             \
    TEST(test_parse_number_rejects_anything_but_plain_digits)

#endif
