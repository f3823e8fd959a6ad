/*
 * capture.h: packets from pcap/pcapng files, read in order as one continuous stream.
 *
 * Live interfaces join here with the daemon issue; the pipeline only sees frames (link type,
 * time, lengths, bytes), so both sources feed it the same way.
 */
#ifndef NFS_CAPTURE_H
#define NFS_CAPTURE_H

#include "common.h"

struct nfs_capture;

/* One captured frame. */
struct nfs_frame {
    int dlt;
    uint64_t ts_us;
    uint32_t cap_len, wire_len;
    const uint8_t *data;
};

/* Opens the first of n files (the others are opened in turn). NULL and err on failure. */
struct nfs_capture *nfs_capture_open_files(const char *const *paths, size_t n,
                                           const char *bpf, struct nfs_error *err);
void nfs_capture_close(struct nfs_capture *c);

/*
 * Reads up to max frames into f[]; their data stays valid until the next call. Returns the
 * number read (a batch never spans two files), 0 at the end of the last file, -1 when a file is
 * unreadable or corrupt (err names the file and how many packets it gave before).
 */
int nfs_capture_next_batch(struct nfs_capture *c, struct nfs_frame *f, int max,
                           struct nfs_error *err);

/* One frame at a time: nfs_capture_next_batch with max 1. */
int nfs_capture_next(struct nfs_capture *c, struct nfs_frame *f, struct nfs_error *err);

/* Progress through all the files, in bytes: done and total. */
void nfs_capture_progress(const struct nfs_capture *c, uint64_t *done, uint64_t *total);

#endif
