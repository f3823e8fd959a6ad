/*
 * capture_live.h: packets from a live network interface (libpcap, TPACKET_V3 ring).
 *
 * One handle is one capture socket with its own kernel ring: snaplen, promiscuous mode, ring
 * size and a BPF filter as configured. Handles of one interface opened with the same fanout
 * group share its packets through PACKET_FANOUT (symmetric hash, defragmented first), so both
 * directions of a connection reach the same handle and so the same pipeline.
 * The handle is non-blocking: the owner polls nfs_live_fd() (with its own timeout, so the
 * wall clock keeps running when no packet comes) and then reads batches. A handle is owned by
 * one thread at a time.
 */
#ifndef NFS_CAPTURE_LIVE_H
#define NFS_CAPTURE_LIVE_H

#include "capture.h"

struct nfs_live;

struct nfs_live_options {
    const char *interface;
    const char *bpf; /* NULL or "": every packet */
    bool promiscuous;
    uint32_t snaplen;
    uint64_t buffer_bytes; /* kernel ring size */
    uint32_t fanout_group; /* 0: no fanout; otherwise joins this PACKET_FANOUT group id */
};

/* Why an open failed, for the caller's decision (retry or give up). */
enum nfs_live_failure {
    NFS_LIVE_OK = 0,
    NFS_LIVE_NO_DEVICE,  /* no such interface (yet): retry */
    NFS_LIVE_DOWN,       /* the interface exists but is down: retry */
    NFS_LIVE_PERMISSION, /* CAP_NET_RAW missing: the message says how to grant it */
    NFS_LIVE_BAD_FILTER, /* the BPF expression does not compile */
    NFS_LIVE_OTHER,
};

/* Opens and activates the capture. NULL with err and *why on failure. */
struct nfs_live *nfs_live_open(const struct nfs_live_options *o, enum nfs_live_failure *why,
                               struct nfs_error *err);
void nfs_live_close(struct nfs_live *l);

/* The descriptor to poll for POLLIN. */
int nfs_live_fd(const struct nfs_live *l);

/*
 * Reads what the ring holds, up to max frames, into f[]; the frames are copies, valid until the
 * next call. Returns the count (0: nothing now), or -1 with err when the capture failed (the
 * interface went down or disappeared): close the handle and open it again later.
 */
int nfs_live_read(struct nfs_live *l, struct nfs_frame *f, int max, struct nfs_error *err);

/* Packets the kernel dropped since the open (ring full, interface drops). */
uint64_t nfs_live_drops(struct nfs_live *l);

/* The socket's kernel figures since the open (pcap_stats, which accumulates the counts that
 * PACKET_STATISTICS resets on every read): seen = put in the ring + dropped (ring full), both
 * after the filter; interface drops are the device's own, counted apart. */
struct nfs_live_stats {
    uint64_t seen, dropped, if_dropped;
};
void nfs_live_stats(struct nfs_live *l, struct nfs_live_stats *out);

/* A new PACKET_FANOUT group id, never returned before by this process: the sockets of one
 * set of workers share it (also when they reopen); a restarted set gets another, so old and
 * new sockets never split one group's packets. */
uint32_t nfs_live_fanout_group(void);

#endif
