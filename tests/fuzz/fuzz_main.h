/* fuzz_main.h: a main() for building a fuzz target without libFuzzer
 * (-DFUZZ_STANDALONE): it runs LLVMFuzzerTestOneInput once per file named
 * on the command line, for replaying a corpus or a regression input with
 * any compiler.  Included at the end of each target. */
#ifdef FUZZ_STANDALONE
#include <stdio.h>

int main(int argc, char **argv)
{
    static uint8_t buf[8 << 20];

    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        size_t n;

        if (f == NULL) {
            perror(argv[i]);
            return 1;
        }
        n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    return 0;
}
#endif
