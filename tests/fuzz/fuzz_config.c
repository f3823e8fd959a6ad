/*
 * fuzz_config.c: the YAML configuration loader (lib/config.c).
 *
 * Input: the configuration file. A file that loads is written back in canonical form; that
 * output must load too and write itself back unchanged (config.h's promise). A file that does
 * not load must say why: at least one error line, and no error line may hold a control
 * character but tab (garbage from an unset buffer, or input bytes echoed into the log
 * unquoted: a double-quoted YAML scalar can hold any of them; a plain one, tabs).
 */
#include "config.h"
#include "fuzz.h"

/* The canonical form of the configuration in the file at path; NULL when it does not load. */
static char *
canonical(const char *path, size_t *len, bool *loaded)
{
    struct nfs_config_errors errs = {0};
    struct nfs_config *cfg = nfs_config_load(path, NULL, 0, &errs);
    char *out = NULL;
    FILE *fp;

    *loaded = cfg != NULL;
    if (cfg == NULL && errs.n_total == 0)
        abort(); /* refused without a word */
    for (size_t i = 0; i < errs.n; i++)
        for (const unsigned char *c = (const unsigned char *)errs.lines[i]; *c; c++)
            if ((*c < 0x20 && *c != '\t') || *c == 0x7f) {
                fprintf(stderr, "fuzz_config: control character in \"%s\"\n", errs.lines[i]);
                abort();
            }
    if (cfg != NULL && (fp = open_memstream(&out, len)) != NULL) {
        nfs_config_write(cfg, fp);
        fclose(fp);
    }
    nfs_config_free(cfg);
    nfs_config_errors_free(&errs);
    return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_file in, again;
    size_t len1 = 0, len2 = 0;
    char *out1, *out2 = NULL;
    bool loaded;

    if (!fuzz_file_open(&in, data, size))
        return 0;
    out1 = canonical(in.path, &len1, &loaded);
    fuzz_file_close(&in);
    if (out1 != NULL && fuzz_file_open(&again, (const uint8_t *)out1, len1)) {
        out2 = canonical(again.path, &len2, &loaded);
        fuzz_file_close(&again);
        if (!loaded || out2 == NULL || len1 != len2 || memcmp(out1, out2, len1) != 0) {
            fprintf(stderr, "fuzz_config: the canonical form does not reload to itself:\n"
                            "--- first\n%s\n--- second\n%s\n", out1, out2 ? out2 : "(none)");
            abort();
        }
    }
    free(out1);
    free(out2);
    return 0;
}
