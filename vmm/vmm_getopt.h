/* vmm_getopt.h: GNU getopt_long's argv rules and messages (vmm_getopt.c). */
#ifndef INSTAR_VMM_GETOPT_H
#define INSTAR_VMM_GETOPT_H

#include <stdbool.h>

struct vmm_long_option {
    const char *name;
    bool has_arg; /* required argument */
    int val;
};

struct vmm_getopt {
    int ind;           /* as optind: the next argv element; after -1, the first operand */
    char *arg;         /* as optarg */
    char *next;        /* the rest of a cluster of short options */
    int first_operand; /* operands skipped so far: argv[first_operand..last_operand) */
    int last_operand;
    bool in_order;     /* POSIXLY_CORRECT: stop at the first operand */
};

void vmm_getopt_init(struct vmm_getopt *g);
/* The next option's value, '?' after printing glibc's message for a bad one
 * (prefixed with argv[0]), or -1 when the options end.  Permutes argv. */
int vmm_getopt_long(struct vmm_getopt *g, int argc, char **argv, const char *shorts,
                    const struct vmm_long_option *longs);

#endif
