/*
 * check.h: the unit tests' few assertions.
 *
 * A test file defines static void test_xxx(void) cases and lists them in main() with RUN(); each
 * failed CHECK prints file:line and the expression, and main returns check_exit(), non-zero when
 * anything failed. meson's test() runs every file; tests/run totals them.
 */
#ifndef NFS_CHECK_H
#define NFS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_cases, check_failed_cases;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ != check_b_) {                                                                \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", __FILE__,          \
                    __LINE__, #a, check_a_, #b, check_b_);                                         \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        if (strcmp(check_a_, check_b_) != 0) {                                                     \
            fprintf(stderr, "%s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__,     \
                    check_a_, check_b_);                                                           \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        int check_before_ = check_failures;                                                        \
        check_cases++;                                                                             \
        fn();                                                                                      \
        if (check_failures != check_before_) {                                                     \
            check_failed_cases++;                                                                  \
            fprintf(stderr, "FAIL %s\n", #fn);                                                     \
        }                                                                                          \
    } while (0)

static inline int
check_exit(void)
{
    printf("%d passed, %d failed\n", check_cases - check_failed_cases, check_failed_cases);
    return check_failed_cases ? 1 : 0;
}

#endif
