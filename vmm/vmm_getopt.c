/* vmm_getopt.c: GNU getopt_long's argv rules and messages, whatever libc
 * instar links.
 *
 * qemu-img parses its argv with glibc's getopt_long, and its users see the
 * result: options and operands in any order (argv is permuted so that the
 * operands end up last), "--" ending the options, unique prefixes of long
 * options, and glibc's texts for each error.  The release build links musl,
 * whose getopt_long differs in its messages and in what it calls ambiguous,
 * so the rules are implemented here, from glibc's documented behaviour
 * (tests/unit/test_argv.c and the functional tests compare with qemu-img).
 *
 * Only what instar's option strings use: no leading '+', '-' or ':' in the
 * short options, no optional arguments, no -W.  POSIXLY_CORRECT in the
 * environment stops at the first operand, as in glibc.
 */
#include <stdlib.h>
#include <string.h>

#include "vmm.h"
#include "vmm_getopt.h"

static FILE *diag(void)
{
    return vmm_diag != NULL ? vmm_diag : stderr;
}

static bool is_operand(const char *s)
{
    return s[0] != '-' || s[1] == '\0';
}

static void reverse(char **v, int from, int to)
{
    for (to--; from < to; from++, to--) {
        char *t = v[from];

        v[from] = v[to];
        v[to] = t;
    }
}

/* Move the operands skipped so far, argv[first_operand..last_operand), past
 * the options parsed since, argv[last_operand..ind). */
static void move_operands_back(struct vmm_getopt *g, char **argv)
{
    int moved = g->ind - g->last_operand;

    reverse(argv, g->first_operand, g->last_operand);
    reverse(argv, g->last_operand, g->ind);
    reverse(argv, g->first_operand, g->ind);
    g->first_operand += moved;
    g->last_operand = g->ind;
}

static int long_option(struct vmm_getopt *g, int argc, char **argv,
                       const struct vmm_long_option *longs)
{
    char *name = g->next;
    size_t len = strcspn(name, "=");
    const struct vmm_long_option *found = NULL;
    bool ambiguous = false;
    size_t n = 0;

    while (longs[n].name != NULL)
        n++;
    for (size_t i = 0; i < n && found == NULL; i++)
        if (strlen(longs[i].name) == len && strncmp(longs[i].name, name, len) == 0)
            found = &longs[i];
    if (found == NULL) {
        /* A prefix: unique, or shared only by options that act alike. */
        for (size_t i = 0; i < n; i++) {
            if (strncmp(longs[i].name, name, len) != 0)
                continue;
            if (found == NULL)
                found = &longs[i];
            else if (found->has_arg != longs[i].has_arg || found->val != longs[i].val)
                ambiguous = true;
        }
    }
    g->next = NULL;
    g->ind++;
    if (ambiguous) {
        fprintf(diag(), "%s: option '--%s' is ambiguous; possibilities:", argv[0], name);
        for (size_t i = 0; i < n; i++)
            if (strncmp(longs[i].name, name, len) == 0 &&
                (&longs[i] == found || found->has_arg != longs[i].has_arg ||
                 found->val != longs[i].val))
                fprintf(diag(), " '--%s'", longs[i].name);
        fputc('\n', diag());
        return '?';
    }
    if (found == NULL) {
        fprintf(diag(), "%s: unrecognized option '--%s'\n", argv[0], name);
        return '?';
    }
    if (name[len] == '=') {
        if (!found->has_arg) {
            fprintf(diag(), "%s: option '--%s' doesn't allow an argument\n", argv[0],
                    found->name);
            return '?';
        }
        g->arg = name + len + 1;
    } else if (found->has_arg) {
        if (g->ind >= argc) {
            fprintf(diag(), "%s: option '--%s' requires an argument\n", argv[0], found->name);
            return '?';
        }
        g->arg = argv[g->ind++];
    }
    return found->val;
}

static int short_option(struct vmm_getopt *g, int argc, char **argv, const char *shorts)
{
    char c = *g->next++;
    const char *spec = c != ':' && c != ';' ? strchr(shorts, c) : NULL;

    /* The last character of a cluster moves on to the next word. */
    if (*g->next == '\0') {
        g->next = NULL;
        g->ind++;
    }
    if (spec == NULL || c == '\0') {
        fprintf(diag(), "%s: invalid option -- '%c'\n", argv[0], c);
        return '?';
    }
    if (spec[1] != ':')
        return (unsigned char)c;
    if (g->next != NULL) {
        /* -fqcow2: the rest of the word. */
        g->arg = g->next;
        g->next = NULL;
        g->ind++;
    } else if (g->ind >= argc) {
        fprintf(diag(), "%s: option requires an argument -- '%c'\n", argv[0], c);
        return '?';
    } else {
        g->arg = argv[g->ind++];
    }
    return (unsigned char)c;
}

void vmm_getopt_init(struct vmm_getopt *g)
{
    memset(g, 0, sizeof(*g));
    g->ind = 1;
    g->first_operand = g->last_operand = 1;
    g->in_order = getenv("POSIXLY_CORRECT") != NULL;
}

int vmm_getopt_long(struct vmm_getopt *g, int argc, char **argv, const char *shorts,
                    const struct vmm_long_option *longs)
{
    g->arg = NULL;
    if (g->next == NULL || *g->next == '\0') {
        g->next = NULL;
        if (g->last_operand > g->ind)
            g->last_operand = g->ind;
        if (g->first_operand > g->ind)
            g->first_operand = g->ind;
        if (!g->in_order) {
            if (g->first_operand != g->last_operand && g->last_operand != g->ind)
                move_operands_back(g, argv);
            else if (g->last_operand != g->ind)
                g->first_operand = g->ind;
            while (g->ind < argc && is_operand(argv[g->ind]))
                g->ind++;
            g->last_operand = g->ind;
        }
        if (g->ind < argc && strcmp(argv[g->ind], "--") == 0) {
            g->ind++;
            if (g->first_operand != g->last_operand && g->last_operand != g->ind)
                move_operands_back(g, argv);
            else if (g->first_operand == g->last_operand)
                g->first_operand = g->ind;
            g->last_operand = argc;
            g->ind = argc;
        }
        if (g->ind >= argc) {
            /* Point at the operands, now at the end. */
            if (g->first_operand != g->last_operand)
                g->ind = g->first_operand;
            return -1;
        }
        if (is_operand(argv[g->ind]))
            return -1; /* POSIXLY_CORRECT */
        if (argv[g->ind][1] == '-') {
            g->next = argv[g->ind] + 2;
            return long_option(g, argc, argv, longs);
        }
        g->next = argv[g->ind] + 1;
    }
    return short_option(g, argc, argv, shorts);
}
