/* test_argv.c: `measure` argv handling: GNU getopt permutation, repeated
 * options, -o accumulation, and qemu-img's check order and messages.  (The
 * functional tests compare whole runs with qemu-img; this pins the parser.) */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm_measure.h"
#include "test_util.h"

struct result {
    int rc;
    struct vmm_measure_args a;
    char err[1024];
    char out[256];
};

struct call {
    struct result *r;
    int argc;
    char **argv;
};

static void do_parse(void *arg)
{
    struct call *c = arg;

    c->r->rc = vmm_measure_parse_argv(c->argc, c->argv, &c->r->a);
}

/* Parse `argv` (NULL-terminated, without "measure"), capturing output. */
static void parse(struct result *r, const char *const *argv)
{
    char *args[32];
    struct call c = {r, 0, args};

    args[c.argc++] = (char *)"measure";
    for (; *argv != NULL; argv++)
        args[c.argc++] = (char *)*argv;
    args[c.argc] = NULL;
    memset(r, 0, sizeof(*r));
    test_capture(do_parse, &c, r->err, sizeof(r->err), r->out, sizeof(r->out));
    vmm_objects_free();
}

#define PARSE(r, ...)                                          \
    do {                                                       \
        static const char *const argv_[] = {__VA_ARGS__, NULL}; \
        parse((r), argv_);                                      \
    } while (0)

START_TEST(options_after_the_filename)
{
    struct result r;

    PARSE(&r, "img.qcow2", "-O", "qcow2", "--output=json", "-f", "qcow2");
    ck_assert_int_eq(r.rc, -1);
    ck_assert_str_eq(r.a.filename, "img.qcow2");
    ck_assert_str_eq(r.a.out_fmt, "qcow2");
    ck_assert_str_eq(r.a.fmt, "qcow2");
    ck_assert(r.a.json);
    free(r.a.options);
}
END_TEST

START_TEST(last_one_wins_and_lists_accumulate)
{
    struct result r;

    PARSE(&r, "--size", "1G", "--size=2k", "-O", "raw", "-O", "qcow2", "-o", "a=1",
          "-o", "b=2,,x", "--output", "json", "--output=human");
    ck_assert_int_eq(r.rc, -1);
    ck_assert(r.a.have_size);
    ck_assert_uint_eq(r.a.img_size, 2048);
    ck_assert_str_eq(r.a.out_fmt, "qcow2");
    ck_assert_str_eq(r.a.options, "a=1,b=2,,x");
    ck_assert(!r.a.json);
    free(r.a.options);
}
END_TEST

START_TEST(checks_in_qemu_img_order)
{
    struct result r;

    /* Option errors stop at the first bad option, in argv order. */
    PARSE(&r, "--size", "bad", "--output=xml");
    ck_assert_int_eq(r.rc, 1);
    ck_assert_str_eq(r.err, "instar: Invalid image size specified. You may use k, M, G, T, P "
                            "or E suffixes for\ninstar: kilobytes, megabytes, gigabytes, "
                            "terabytes, petabytes and exabytes.\n");
    PARSE(&r, "--output=xml", "--size", "bad");
    ck_assert_str_eq(r.err, "instar: --output must be used with human or json as argument.\n");
    PARSE(&r, "-o", "x,", "--size", "1G");
    ck_assert_str_eq(r.err, "instar: Invalid option list: x,\n");
    PARSE(&r, "-l", "snapshot.foo=1", "--size", "1G");
    ck_assert_str_eq(r.err, "instar: Invalid parameter 'snapshot.foo'\n"
                            "instar: Failed in parsing snapshot param 'snapshot.foo=1'\n");
    /* Then the filename rules. */
    PARSE(&r, "a", "b", "--size", "1G");
    ck_assert_str_eq(r.err, "instar: At most one filename argument is allowed.\n");
    PARSE(&r, "-f", "raw", "--size", "1G");
    ck_assert_str_eq(r.err, "instar: --image-opts, -f, and -l require a filename argument.\n");
    PARSE(&r, "--size", "1G", "a");
    ck_assert_str_eq(r.err, "instar: --size N cannot be used together with a filename.\n");
    PARSE(&r, "-O", "qcow2");
    ck_assert_str_eq(r.err, "instar: Either --size N or one filename must be specified.\n");
    ck_assert_int_eq(r.rc, 1);
    ck_assert_str_eq(r.out, "");
}
END_TEST

START_TEST(getopt_errors_print_usage_and_succeed)
{
    struct result r;

    PARSE(&r, "--bogus");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.err, "measure: unrecognized option '--bogus'\n");
    ck_assert(strncmp(r.out, "instar version", 14) == 0);
    PARSE(&r, "--size");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.err, "measure: option '--size' requires an argument\n");
    PARSE(&r, "--o", "json");
    ck_assert_str_eq(r.err, "measure: option '--o' is ambiguous; possibilities: '--object' "
                            "'--output'\n");
    PARSE(&r, "-h", "--size", "bad");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.err, "");
}
END_TEST

START_TEST(timeout_is_validated)
{
    struct result r;

    PARSE(&r, "--size", "1G", "--timeout", "5");
    ck_assert_int_eq(r.rc, -1);
    ck_assert_uint_eq(r.a.timeout_ms, 5000);
    PARSE(&r, "--size", "1G", "--timeout=0");
    ck_assert_int_eq(r.rc, 1);
    PARSE(&r, "--size", "1G", "--timeout=1e3");
    ck_assert_int_eq(r.rc, 1);
}
END_TEST

static Suite *argv_suite(void)
{
    Suite *s = suite_create("argv");
    TCase *tc = tcase_create("measure");

    tcase_add_test(tc, options_after_the_filename);
    tcase_add_test(tc, last_one_wins_and_lists_accumulate);
    tcase_add_test(tc, checks_in_qemu_img_order);
    tcase_add_test(tc, getopt_errors_print_usage_and_succeed);
    tcase_add_test(tc, timeout_is_validated);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(argv_suite());
}
