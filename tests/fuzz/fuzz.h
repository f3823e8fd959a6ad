/*
 * fuzz.h: what the fuzz targets of tests/fuzz share.
 *
 * Every target defines LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize). Built with
 * clang and -Dfuzz=true, libFuzzer supplies main(); in every other build regress.c does, and runs
 * the target over each file of the corpus and regression folders given to it (suite
 * fuzz-regress), so the corpora are replayed by gcc and under ASan+UBSan by the test command.
 * Inputs that need a file (captures, YAML, model files) are written to an anonymous memory file
 * and opened by its /proc/self/fd path: nothing touches the disk, nothing is left behind.
 */
#ifndef NFS_FUZZ_H
#define NFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A file holding the input: fd and its path. */
struct fuzz_file {
    int fd;
    char path[64];
};

/* Writes data to a new memory file; false when that fails (the input is then skipped). */
static inline int
fuzz_file_open(struct fuzz_file *f, const uint8_t *data, size_t size)
{
    size_t done = 0;

    f->fd = memfd_create("nfsensor-fuzz", MFD_CLOEXEC);
    if (f->fd < 0)
        return 0;
    while (done < size) {
        ssize_t n = write(f->fd, data + done, size - done);

        if (n <= 0) {
            close(f->fd);
            return 0;
        }
        done += (size_t)n;
    }
    snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
    return 1;
}

static inline void
fuzz_file_close(struct fuzz_file *f)
{
    close(f->fd);
}

/* A copy of data in its own allocation, so that ASan sees a read one byte past its end. */
static inline uint8_t *
fuzz_copy(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);

    if (p != NULL && size > 0)
        memcpy(p, data, size);
    return p;
}

#endif
