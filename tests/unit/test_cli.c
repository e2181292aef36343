/* test_cli.c: the host's qemu-img argument syntax: --size numbers and -o
 * option lists.  Size strings are checked against the real qemu-img. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qemu_ref.h"
#include "vmm.h"
#include "test_util.h"

struct size_call {
    const char *s;
    enum vmm_strtosz_err rc;
    uint64_t v;
};

static void do_strtosz(void *arg)
{
    struct size_call *c = arg;

    c->rc = vmm_strtosz(c->s, &c->v);
}

static const char *const size_cases[] = {
    "0", "1", "512", "01000", "+1k", " +1G", "\t5k", "\n5k", "-1", " -0", "+-1", "++5",
    " + 5", "1b", "1B", "1k", "1K", "1m", "1M", "1g", "1G", "1t", "1T", "1p", "1P", "1e",
    "1E", "7E", "7.5E", "8E", "16E", "1.5G", "5.k", "5.", "1.k", ".5k", "0.5", "0.5k",
    "1.5", "1.5b", "1.0b", "1.00b", "0.1b", "1.0000001k", "0.0001k", "1.0009k", "0.0005k",
    "0.0004k", "0.00048828125k", "0.000488281249k", "1.3333333333333333k",
    "1.9999999999999999999999k", "0.9999999999999999999e", "7.9999999999999999999e",
    "7.99999999999999e", "123456789.123456789k", "4294967296.5k", "9007199254740993.5k",
    "1e3", "1.e5", "1.5e5", "1.5e-3", "1 k", "1024 ", "1kb", "1KiB", "1,5k", "k", ".k",
    "0.5kk", "1.5x", "1. 5k", "1.+5k", "1.inf", "1.nan", "0x10000", "0X10", "0xAb",
    "0x10k", "0x10K", "0x1p", "0x10e", "0x1E", "0x", "0xg", "00x10", "0x 10", "0x-10",
    "0x+10", "0x.5", "0x1.5k", "0x10.5", "0x7fffffffffffffff", "0x8000000000000000",
    "0xffffffffffffffffk", "0xfffffffffffffffff", "9223372036854775807",
    "9223372036854775808", "18446744073709551615", "18446744073709551616",
    "18446744073709551615k", "99999999999999999999", "99999999999999999999k", "",
    " ", "077", "08", "1..5k", "1.5.k", "0b101",
};

START_TEST(size_strings_match_qemu)
{
    const char *s = size_cases[_i];
    struct size_call c = {.s = s};
    char err[512];
    uint64_t want = 0;
    bool warned = false;
    int qrc = qemu_ref_size(s, &want, &warned);
    bool ours_ok;

    test_capture(do_strtosz, &c, err, sizeof(err), NULL, 0);
    /* cvtnum: valid sizes are at most INT64_MAX. */
    ours_ok = c.rc == VMM_SZ_OK && c.v <= (uint64_t)INT64_MAX;
    if (qrc == 0) {
        ck_assert_msg(ours_ok, "'%s': qemu-img accepts %" PRIu64 ", instar rc %d", s, want,
                      (int)c.rc);
        ck_assert_msg(c.v == want, "'%s': qemu-img %" PRIu64 ", instar %" PRIu64, s, want, c.v);
    } else if (qrc == 1) {
        ck_assert_msg(c.rc == VMM_SZ_EINVAL, "'%s': qemu-img says invalid, instar rc %d v %"
                      PRIu64, s, (int)c.rc, c.v);
    } else {
        ck_assert_msg(!ours_ok && c.rc != VMM_SZ_EINVAL,
                      "'%s': qemu-img says out of range, instar rc %d", s, (int)c.rc);
    }
    ck_assert_msg(warned == (strstr(err, "warning: Using a multiplier suffix on hex numbers "
                                         "is deprecated") != NULL),
                  "'%s': warning mismatch (qemu-img %d, instar '%s')", s, warned, err);
}
END_TEST

START_TEST(option_list_validity)
{
    ck_assert(vmm_opts_list_valid("a=1"));
    ck_assert(vmm_opts_list_valid("a=1,,"));
    ck_assert(vmm_opts_list_valid("a=1,,b"));
    ck_assert(!vmm_opts_list_valid(""));
    ck_assert(!vmm_opts_list_valid(",a=1"));
    ck_assert(!vmm_opts_list_valid("a=1,"));
    ck_assert(!vmm_opts_list_valid("a=1,,,"));
    ck_assert(!vmm_opts_list_valid("=,"));
}
END_TEST

static const struct vmm_opt_desc descs[] = {
    {"size", VMM_OPT_SIZE},     {"name", VMM_OPT_STRING}, {"flag", VMM_OPT_BOOL},
    {"count", VMM_OPT_NUMBER},  {NULL, VMM_OPT_STRING},
};
static const struct vmm_opt_desc more[] = {
    {"cow", VMM_OPT_BOOL},
    {"name", VMM_OPT_NUMBER}, /* shadowed by descs */
    {NULL, VMM_OPT_STRING},
};

struct parse_call {
    const char *list;
    struct vmm_opts o;
    bool ok;
};

static void do_parse(void *arg)
{
    struct parse_call *c = arg;

    c->ok = vmm_opts_parse(&c->o, c->list, descs, more);
}

static bool parse(struct parse_call *c, const char *list, char *err, size_t err_size)
{
    c->list = list;
    test_capture(do_parse, c, err, err_size, NULL, 0);
    return c->ok;
}

START_TEST(option_list_parsing)
{
    struct parse_call c;
    char err[512];
    const struct vmm_opt *o;

    ck_assert(parse(&c, "name=a,,b,,,size=1k,flag,nocow,count=0x10,id=7,name=last", err,
                    sizeof(err)));
    ck_assert_uint_eq(c.o.count, 6); /* id is skipped */
    ck_assert_str_eq(c.o.items[0].value, "a,b,");
    ck_assert_uint_eq(vmm_opts_get(&c.o, "size")->number, 1024);
    ck_assert(vmm_opts_get(&c.o, "flag")->boolean);
    ck_assert(!vmm_opts_get(&c.o, "cow")->boolean);
    ck_assert_uint_eq(vmm_opts_get(&c.o, "count")->number, 16);
    o = vmm_opts_get(&c.o, "name");
    ck_assert_str_eq(o->value, "last");
    ck_assert_int_eq(o->desc->type, VMM_OPT_STRING);
    vmm_opts_free(&c.o);

    ck_assert(!parse(&c, "name=x,bogus=1", err, sizeof(err)));
    ck_assert_str_eq(err, "instar: Invalid parameter 'bogus'\n");
    ck_assert(!parse(&c, "no", err, sizeof(err)));
    ck_assert_str_eq(err, "instar: Invalid parameter ''\n");
    ck_assert(!parse(&c, "flag=ON", err, sizeof(err)));
    ck_assert_str_eq(err, "instar: Parameter 'flag' expects 'on' or 'off'\n");
    ck_assert(!parse(&c, "count=16k", err, sizeof(err)));
    ck_assert_str_eq(err, "instar: Parameter 'count' expects a number\n");
    ck_assert(!parse(&c, "count=99999999999999999999", err, sizeof(err)));
    ck_assert_str_eq(err, "instar: Value '99999999999999999999' is too large for parameter "
                          "'count'\n");
    ck_assert(!parse(&c, "size=99999999999999999999", err, sizeof(err)));
    ck_assert_str_eq(err, "instar: Value '99999999999999999999' is out of range for parameter "
                          "'size'\n");
    ck_assert(!parse(&c, "size", err, sizeof(err)));
    ck_assert_str_eq(err, "instar: Parameter 'size' expects a non-negative number below 2^64\n"
                          "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, "
                          "tera-, peta-\nand exabytes, respectively.\n");
    /* Each element is checked in order: the first bad one wins. */
    ck_assert(!parse(&c, "flag=x,bogus", err, sizeof(err)));
    ck_assert_str_eq(err, "instar: Parameter 'flag' expects 'on' or 'off'\n");
}
END_TEST

/* The release build links musl; its error texts must still be glibc's, which
 * qemu-img prints.  This test links glibc, so strerror() is the reference. */
START_TEST(error_texts_are_glibc)
{
    for (int e = 1; e < 134; e++) {
        char want[128];

        snprintf(want, sizeof(want), "%s", strerror(e));
        ck_assert_msg(strcmp(vmm_strerror(e), want) == 0, "errno %d: '%s', glibc '%s'", e,
                      vmm_strerror(e), want);
    }
    ck_assert_str_eq(vmm_strerror(EIO), "Input/output error");
    ck_assert_str_eq(vmm_strerror(ELOOP), "Too many levels of symbolic links");
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("size");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, size_strings_match_qemu, 0,
                        (int)(sizeof(size_cases) / sizeof(size_cases[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("opts");
    tcase_add_test(tc, option_list_validity);
    tcase_add_test(tc, option_list_parsing);
    tcase_add_test(tc, error_texts_are_glibc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(cli_suite());
}
