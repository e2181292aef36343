/* test_util.h: helpers shared by the Check unit tests. */
#ifndef INSTAR_TEST_UTIL_H
#define INSTAR_TEST_UTIL_H

#include <check.h>
#include <stddef.h>

/* Run every test of `s`; returns the process exit status. */
int test_run_suite(Suite *s);

/* Call fn(arg) with stdout and stderr captured into `out` and `err`
 * (NUL-terminated, truncated to their sizes; `out` may be NULL). */
void test_capture(void (*fn)(void *), void *arg, char *err, size_t err_size, char *out,
                  size_t out_size);

#endif /* INSTAR_TEST_UTIL_H */
