/* vmm_help.c: instar's usage text (printed where qemu-img prints its own). */
#include "vmm.h"

#ifndef INSTAR_VERSION
#define INSTAR_VERSION "0.0.0"
#endif

void vmm_print_help(FILE *out)
{
    fputs("instar version " INSTAR_VERSION "\n"
          "A sandboxed drop-in replacement for qemu-img: image bytes are parsed only\n"
          "inside a throw-away KVM guest, never in this process.\n"
          "usage: instar [standard options] command [command options]\n"
          "\n"
          "    '-h', '--help'       display this help and exit\n"
          "    '-V', '--version'    output version information and exit\n"
          "\n"
          "Command syntax:\n"
          "  measure [--output=ofmt] [-O output_fmt] [-o options] [--size N | [--object objectdef] "
          "[--image-opts] [-f fmt] [-l snapshot_param] filename] [--timeout=seconds] "
          "[--allow-path=DIR ...]\n"
          "\n"
          "Command parameters:\n"
          "  'filename' is a disk image filename; it is opened read-only\n"
          "  'objectdef' is a QEMU user creatable object definition; instar supports\n"
          "    'secret' objects (secret,id=ID,data=...|file=...)\n"
          "  'size' is the disk image size in bytes. Optional suffixes\n"
          "    'k' or 'K' (kilobyte, 1024), 'M' (megabyte, 1024k), 'G' (gigabyte, 1024M),\n"
          "    'T' (terabyte, 1024G), 'P' (petabyte, 1024T) and 'E' (exabyte, 1024P)  are\n"
          "    supported. 'b' is ignored.\n"
          "  'output_fmt' is the destination format: raw (default), qcow2, luks, and\n"
          "    (instar only) vmdk, vpc, vhdx\n"
          "  'options' is a comma separated list of format specific options in a\n"
          "    name=value format\n"
          "  'snapshot_param' is param used for internal snapshot, format\n"
          "    is 'snapshot.id=[ID],snapshot.name=[NAME]', or\n"
          "    '[ID_OR_NAME]'\n"
          "  '--output' takes the format in which the output must be done (human or json)\n"
          "  '--timeout' ends the guest after that many seconds (default 30)\n"
          "  '--allow-path' lets backing files be opened from DIR (repeatable).  Backing\n"
          "    files are followed only inside the directory of 'filename' and these\n"
          "    directories, after resolving symbolic links; protocol and json: names,\n"
          "    loops and chains of more than 16 images are refused.  Every file is\n"
          "    opened read-only\n"
          "\n"
          "Environment: INSTAR_BLOB_DIR (directory of core.bin and measure.bin),\n"
          "INSTAR_DEBUG=1 (diagnostics on stderr).\n"
          "\n"
          "Supported formats: luks qcow2 raw vhdx vmdk vpc\n",
          out);
}
