/* test_argv.c: `measure` argv handling: GNU getopt permutation, repeated
 * options, -o accumulation, and qemu-img's check order and messages.  (The
 * functional tests compare whole runs with qemu-img; this pins the parser.) */
#define _GNU_SOURCE
#include <check.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm.h"
#include "vmm_getopt.h"
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

/* ---- vmm_getopt against glibc's getopt_long --------------------------------
 * The release binary links musl, so instar carries its own getopt_long; this
 * test (linked with glibc) runs both on random argvs built from the tokens
 * that exercise the rules (clusters, glued and separate arguments, "--",
 * "-", prefixes, ambiguity, "=" on options without an argument, unknown
 * options) and compares everything a caller sees: the options and their
 * arguments in order, the messages, the final index and the permuted argv.
 * The table is measure's plus two aliases (same argument rule and value as
 * an option before them), which glibc does not call ambiguous with it. */

static const char *const tokens[] = {
    "-h", "-U", "-f", "raw", "-fqcow2", "-O", "-Ox", "-o", "a=1", "-l", "-q", "-Uh", "-Uf",
    "-UO", "--size", "--size=1", "--si", "--s", "--o", "--ou=json", "--output", "--image-opts",
    "--image-opts=x", "--help=x", "--h", "--bogus", "--bogus=1", "--", "-", "file", "a.img",
    "--timeout", "--allow-path", "--force", "-:", "-;", "--=", "--f=1", "-", "b",
    "--hel", "--out", "--outs=1", "--he=x",
};

struct getopt_run {
    int argc;
    char *argv[12];
    char trace[1024];
    int posix;
};

static void trace_add(struct getopt_run *r, int c, const char *arg)
{
    size_t used = strlen(r->trace);

    snprintf(r->trace + used, sizeof(r->trace) - used, "[%d %s]", c, arg ? arg : "-");
}

static void trace_end(struct getopt_run *r, int ind)
{
    trace_add(r, -1, NULL);
    for (int i = ind; i < r->argc; i++)
        trace_add(r, i, r->argv[i]);
}

static void run_glibc(void *arg)
{
    static const struct option longs[] = {
        {"help", no_argument, 0, 'h'},        {"image-opts", no_argument, 0, 1},
        {"object", required_argument, 0, 2},  {"output", required_argument, 0, 3},
        {"size", required_argument, 0, 4},    {"force-share", no_argument, 0, 'U'},
        {"timeout", required_argument, 0, 5}, {"allow-path", required_argument, 0, 6},
        {"helpful", no_argument, 0, 'h'},     {"outside", required_argument, 0, 3},
        {0, 0, 0, 0},
    };
    struct getopt_run *r = arg;
    int c;

    optind = 0;
    while ((c = getopt_long(r->argc, r->argv, "hf:O:o:l:U", longs, NULL)) != -1)
        trace_add(r, c, optarg);
    trace_end(r, optind);
}

static void run_ours(void *arg)
{
    static const struct vmm_long_option longs[] = {
        {"help", false, 'h'},      {"image-opts", false, 1}, {"object", true, 2},
        {"output", true, 3},       {"size", true, 4},        {"force-share", false, 'U'},
        {"timeout", true, 5},      {"allow-path", true, 6},  {"helpful", false, 'h'},
        {"outside", true, 3},      {NULL, false, 0},
    };
    struct getopt_run *r = arg;
    struct vmm_getopt g;
    int c;

    vmm_getopt_init(&g);
    while ((c = vmm_getopt_long(&g, r->argc, r->argv, "hf:O:o:l:U", longs)) != -1)
        trace_add(r, c, g.arg);
    trace_end(r, g.ind);
}

START_TEST(getopt_matches_glibc)
{
    uint32_t seed = 12345u + (uint32_t)_i;

    for (int iter = 0; iter < 500; iter++) {
        struct getopt_run a = {0};
        struct getopt_run b;
        char err_a[1024];
        char err_b[1024];

        a.argv[a.argc++] = (char *)"measure";
        seed = seed * 1103515245u + 12345u;
        for (int n = (int)(seed >> 16) % 9; n > 0; n--) {
            seed = seed * 1103515245u + 12345u;
            a.argv[a.argc++] = (char *)tokens[(seed >> 16) % (sizeof(tokens) / sizeof(tokens[0]))];
        }
        b = a;
        if (_i % 2)
            setenv("POSIXLY_CORRECT", "1", 1);
        test_capture(run_glibc, &a, err_a, sizeof(err_a), NULL, 0);
        test_capture(run_ours, &b, err_b, sizeof(err_b), NULL, 0);
        unsetenv("POSIXLY_CORRECT");
        ck_assert_str_eq(b.trace, a.trace);
        ck_assert_str_eq(err_b, err_a);
    }
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
    tcase_add_loop_test(tc, getopt_matches_glibc, 0, 8);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(argv_suite());
}
