/* The checks every C unit test uses.  A failed check names file:line and what failed, runs the test's
 * own cleanup and exits 1; EXIT_TEST_SKIP (77) tells meson the test did not run.  Header-only, so a
 * test needs nothing but tests/unit on its include path. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exit status meson counts as "skipped". */
#define EXIT_TEST_SKIP 77

/* A test that must undo host state (cgroups, network namespaces, mounts) when a check fails defines
 * TEST_ON_FAILURE() before it includes this header; one whose checks run in forked children defines
 * TEST_EXIT as _exit, so a failing child does not run the parent's atexit handlers. */
#ifndef TEST_ON_FAILURE
#define TEST_ON_FAILURE() \
        do {              \
        } while (0)
#endif
#ifndef TEST_EXIT
#define TEST_EXIT exit
#endif

#define TEST_FAIL(...)                                          \
        do {                                                    \
                fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
                fprintf(stderr, __VA_ARGS__);                   \
                fputc('\n', stderr);                            \
                TEST_ON_FAILURE();                              \
                TEST_EXIT(EXIT_FAILURE);                        \
        } while (0)

/* x must be true. */
#define CHECK(x)                                           \
        do {                                               \
                if (!(x))                                  \
                        TEST_FAIL("check failed: %s", #x); \
        } while (0)

/* expr returns an int, >= 0 on success and -errno on failure; a failure prints the errno's text. */
#define CHECK_OK(expr)                                                          \
        do {                                                                    \
                int _check_r = (expr);                                          \
                if (_check_r < 0)                                               \
                        TEST_FAIL("%s failed: %s", #expr, strerror(-_check_r)); \
        } while (0)

/* Two strings (either may be NULL) must be equal. */
#define CHECK_STREQ(a, b)                                                                                  \
        do {                                                                                               \
                const char *_check_a = (a), *_check_b = (b);                                               \
                if (!(_check_a == _check_b || (_check_a && _check_b && strcmp(_check_a, _check_b) == 0)))  \
                        TEST_FAIL("'%s' != '%s' (%s, %s)", _check_a ?: "(null)", _check_b ?: "(null)", #a, \
                                  #b);                                                                     \
        } while (0)

/* Ends the test as skipped, saying why in one line; for main(), where the precondition is checked. */
#define TEST_SKIP(...)                        \
        do {                                  \
                fprintf(stderr, "skipped: "); \
                fprintf(stderr, __VA_ARGS__); \
                fputc('\n', stderr);          \
                exit(EXIT_TEST_SKIP);         \
        } while (0)
