/*
 * fuzz_capture.c: the capture file reader (lib/capture.c).
 *
 * Input: the whole file, classic pcap (walked by hand, the fast path) or pcapng (libpcap). It is
 * read twice: as two files in a row (the same bytes twice: the switch from one file to the
 * next) in batches of 1 to 64 frames (the input's size decides), and through a BPF filter that
 * takes every packet (the libpcap path, for classic files too). Each read allocates the
 * reader's 5 MiB of buffers, which ASan poisons: that, not parsing, bounds the exec rate. Every frame's bytes are read one by one,
 * so a frame that points outside the file is an ASan report, and decoded. A read must end, in
 * at most one frame per 16 bytes of input; an error must name the file.
 */
#include "capture.h"
#include "decode.h"
#include "fuzz.h"

static uint8_t sink;

/* Reads every frame of the open capture; returns the count, or -1 after an error. */
static long
drain(struct nfs_capture *c, int max, size_t size, const char *path)
{
    struct nfs_frame f[64];
    struct nfs_decode_options opt = {.decode_tunnels = true, .extra_tunnels = true};
    struct nfs_error err;
    long total = 0;
    int n;

    while ((n = nfs_capture_next_batch(c, f, max, &err)) > 0) {
        for (int i = 0; i < n; i++) {
            struct nfs_packet pkt = {.cap_len = f[i].cap_len, .wire_len = f[i].wire_len};

            for (uint32_t j = 0; j < f[i].cap_len; j++)
                sink ^= f[i].data[j];
            nfs_decode(&pkt, f[i].dlt, f[i].data, &opt);
        }
        total += n;
        if ((size_t)total > 2 * (size / 16 + 1)) /* two files of at most size/16 records */
            abort();
    }
    if (n < 0 && strstr(err.msg, path) == NULL)
        abort();
    return n < 0 ? -1 : total;
}

static void
read_as(const char *path, const char *bpf, size_t n_paths, int max, size_t size)
{
    const char *paths[2] = {path, path};
    struct nfs_error err;
    struct nfs_capture *c = nfs_capture_open_files(paths, n_paths, bpf, &err);
    uint64_t done, total;

    if (c == NULL) {
        if (strstr(err.msg, path) == NULL)
            abort();
        return;
    }
    drain(c, max, size, path);
    nfs_capture_progress(c, &done, &total);
    nfs_capture_close(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_file file;

    if (!fuzz_file_open(&file, data, size))
        return 0;
    read_as(file.path, NULL, 2, 1 + (int)(size % 64), size);
    read_as(file.path, "ip or ip6 or not ip", 1, 64, size);
    fuzz_file_close(&file);
    return 0;
}
