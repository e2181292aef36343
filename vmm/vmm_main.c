/* vmm_main.c: the instar command line: global options and sub-commands. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "vmm.h"

#ifndef INSTAR_VERSION
#define INSTAR_VERSION "0.0.0"
#endif

int main(int argc, char **argv)
{
    const char *dbg = getenv("INSTAR_DEBUG");
    const char *cmd;
    static char outbuf[8192];

    /* stdout's buffer is set up now: once locked down, glibc could not
     * allocate one (or fstat the descriptor to choose its mode). */
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
    vmm_debug_enabled = dbg != NULL && dbg[0] != '\0' && strcmp(dbg, "0") != 0;
    if (argc < 2) {
        vmm_error("Not enough arguments");
        fprintf(stderr, "Try '%s --help' for more information\n", vmm_progname);
        return VMM_EXIT_ERROR;
    }
    cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        vmm_print_help(stdout);
        return VMM_EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("instar version " INSTAR_VERSION "\n");
        return VMM_EXIT_OK;
    }
    if (strcmp(cmd, "measure") == 0)
        return vmm_cmd_measure(argc - 1, argv + 1);
    vmm_error("Command not found: %s", cmd);
    fprintf(stderr, "Try '%s --help' for more information\n", vmm_progname);
    return VMM_EXIT_ERROR;
}
