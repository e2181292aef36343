/* test_util.c: helpers shared by the Check unit tests. */
#define _GNU_SOURCE
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int test_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Redirect `fd` into a fresh temporary file; returns the file's fd. */
static int redirect(int fd, int *saved)
{
    char path[] = "/tmp/instar-capture-XXXXXX";
    int tmp = mkstemp(path);

    if (tmp < 0)
        abort();
    unlink(path);
    *saved = dup(fd);
    dup2(tmp, fd);
    return tmp;
}

static void restore(int fd, int saved, int tmp, char *buf, size_t size)
{
    ssize_t n;

    dup2(saved, fd);
    close(saved);
    if (buf != NULL) {
        n = pread(tmp, buf, size - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
    }
    close(tmp);
}

void test_capture(void (*fn)(void *), void *arg, char *err, size_t err_size, char *out,
                  size_t out_size)
{
    int saved_err;
    int saved_out;
    int tmp_err;
    int tmp_out;

    fflush(stdout);
    fflush(stderr);
    tmp_err = redirect(2, &saved_err);
    tmp_out = redirect(1, &saved_out);
    fn(arg);
    fflush(stdout);
    fflush(stderr);
    restore(1, saved_out, tmp_out, out, out_size);
    restore(2, saved_err, tmp_err, err, err_size);
}
