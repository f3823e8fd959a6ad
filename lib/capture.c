/*
 * capture.c: see capture.h.
 *
 * Files are opened one at a time (an operator may pass thousands); the sizes of all of them are
 * read up front only for the progress line. A BPF filter applies to every file, as NFStream
 * applies bpf_filter offline too.
 */
#include "capture.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

struct nfs_capture {
    const char *const *paths;
    size_t n, current;
    char *bpf;
    pcap_t *pcap;
    int dlt;
    uint64_t packets_in_file;
    uint64_t bytes_before; /* sizes of the files already read */
    uint64_t bytes_total;
};

static bool
open_current(struct nfs_capture *c, struct nfs_error *err)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    const char *path = c->paths[c->current];
    struct bpf_program prog;

    c->pcap = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    if (c->pcap == NULL) {
        nfs_error_set(err, "%s: cannot read: %s", path, errbuf);
        return false;
    }
    c->dlt = pcap_datalink(c->pcap);
    c->packets_in_file = 0;
    if (c->bpf == NULL)
        return true;
    if (pcap_compile(c->pcap, &prog, c->bpf, 1, 0xFFFFFF00) != 0 ||
        pcap_setfilter(c->pcap, &prog) != 0) {
        nfs_error_set(err, "%s: bpf \"%s\": %s", path, c->bpf, pcap_geterr(c->pcap));
        return false;
    }
    pcap_freecode(&prog);
    return true;
}

struct nfs_capture *
nfs_capture_open_files(const char *const *paths, size_t n, const char *bpf,
                       struct nfs_error *err)
{
    struct nfs_capture *c = calloc(1, sizeof(*c));

    if (c == NULL || n == 0) {
        nfs_error_set(err, n == 0 ? "no input file" : "out of memory");
        free(c);
        return NULL;
    }
    c->paths = paths;
    c->n = n;
    c->bpf = bpf ? strdup(bpf) : NULL;
    for (size_t i = 0; i < n; i++) {
        struct stat st;

        if (stat(paths[i], &st) == 0)
            c->bytes_total += (uint64_t)st.st_size;
    }
    if (!open_current(c, err)) {
        nfs_capture_close(c);
        return NULL;
    }
    return c;
}

void
nfs_capture_close(struct nfs_capture *c)
{
    if (c == NULL)
        return;
    if (c->pcap)
        pcap_close(c->pcap);
    free(c->bpf);
    free(c);
}

static bool
next_file(struct nfs_capture *c, struct nfs_error *err)
{
    struct stat st;

    if (stat(c->paths[c->current], &st) == 0)
        c->bytes_before += (uint64_t)st.st_size;
    pcap_close(c->pcap);
    c->pcap = NULL;
    if (++c->current == c->n)
        return false;
    return open_current(c, err);
}

int
nfs_capture_next(struct nfs_capture *c, struct nfs_frame *f, struct nfs_error *err)
{
    struct pcap_pkthdr *hdr;
    const u_char *data;

    while (c->pcap != NULL) {
        int rc = pcap_next_ex(c->pcap, &hdr, &data);

        if (rc == 1) {
            c->packets_in_file++;
            f->dlt = c->dlt;
            f->ts_us = (uint64_t)hdr->ts.tv_sec * 1000000u + (uint64_t)hdr->ts.tv_usec;
            f->cap_len = hdr->caplen;
            f->wire_len = hdr->len;
            f->data = data;
            return 1;
        }
        if (rc == PCAP_ERROR) {
            nfs_error_set(err, "%s: corrupt after %llu packets: %s", c->paths[c->current],
                          (unsigned long long)c->packets_in_file, pcap_geterr(c->pcap));
            return -1;
        }
        if (!next_file(c, err))
            return c->pcap == NULL && c->current == c->n ? 0 : -1;
    }
    return 0;
}

void
nfs_capture_progress(const struct nfs_capture *c, uint64_t *done, uint64_t *total)
{
    FILE *fp = c->pcap ? pcap_file(c->pcap) : NULL;
    long pos = fp ? ftell(fp) : 0;

    *done = c->bytes_before + (pos > 0 ? (uint64_t)pos : 0);
    *total = c->bytes_total;
}
