/*
 * loss.c: see loss.h.
 */
#include "loss.h"

#include <inttypes.h>
#include <stdio.h>

static bool
equal(uint64_t left, uint64_t right, const char *what, char *why, size_t size)
{
    if (left == right)
        return true;
    snprintf(why, size, "%s: %" PRIu64 " != %" PRIu64, what, left, right);
    return false;
}

bool
nfs_loss_check_interface(const struct nfs_counters *c, char *why, size_t size)
{
    const uint64_t *v = c->v;

    return equal(v[NFS_C_KERNEL_SEEN],
                 v[NFS_C_KERNEL_DROPPED] + v[NFS_C_RING_WAITING] + v[NFS_C_RING_DISCARDED] +
                     v[NFS_C_PACKETS],
                 "capture.kernel.seen = dropped + ring.waiting + ring.discarded + packets", why,
                 size) &&
           equal(v[NFS_C_PACKETS], v[NFS_C_PROCESSED] + nfs_counters_ignored(c),
                 "capture.packets = decode.processed + ignored", why, size) &&
           equal(v[NFS_C_FLOWS_CREATED],
                 v[NFS_C_FLOWS_EXPORTED] + v[NFS_C_FLOWS_QUEUE_FULL] + v[NFS_C_FLOWS_OPEN],
                 "flows.created = exported + dropped.queue_full + active", why, size);
}

bool
nfs_loss_check_collector(const struct nfs_exporter_stats *s, char *why, size_t size)
{
    return equal(
        s->taken, s->delivered + s->waiting + s->spool_full + s->send_errors + s->undelivered,
        "records = delivered + waiting + spool_full + send_errors + undelivered", why, size);
}

void
nfs_loss_file_input(struct nfs_counters *c, uint64_t exported, uint64_t active)
{
    c->v[NFS_C_KERNEL_SEEN] = c->v[NFS_C_PACKETS];
    c->v[NFS_C_FLOWS_EXPORTED] = exported;
    c->v[NFS_C_FLOWS_OPEN] = active;
}
