/*
 * observe.h: the daemon's metrics outputs, as configured in metrics: (both off by default).
 *
 * The owner (the live daemon's main loop, or an offline run between batches) reads its
 * snapshots when nfs_observe_due says so and hands them over; this renders the text once and
 * gives it to the HTTP server (metrics.listen) and the textfile (metrics.textfile).
 */
#ifndef NFS_OBSERVE_H
#define NFS_OBSERVE_H

#include "config.h"
#include "metrics.h"

struct nfs_observe;

/*
 * Binds the listener (before privileges are dropped). NULL when nothing is configured (then
 * every other call is a no-op) or, with *failed set and the reason logged, when the listener
 * cannot be bound.
 */
struct nfs_observe *nfs_observe_start(const struct nfs_config *cfg, bool *failed);

/* True when metrics.interval has passed since the last publish (always true for the first). */
bool nfs_observe_due(const struct nfs_observe *o, uint64_t now_ms);

/* Milliseconds until the next publish is due (for a poll timeout); -1 when none. */
int nfs_observe_wait_ms(const struct nfs_observe *o, uint64_t now_ms);

/* Publishes n interfaces' snapshots; why_unhealthy NULL: /health says ok. */
void nfs_observe_publish(struct nfs_observe *o, const struct nfs_metrics_interface *ifs, size_t n,
                         const char *why_unhealthy, uint64_t now_ms);

/* Offline runs: keeps serving the last page for metrics.linger, or until SIGTERM or SIGINT
 * (blocked for the wait), when a listener is configured. */
void nfs_observe_linger(const struct nfs_observe *o);

void nfs_observe_stop(struct nfs_observe *o);

#endif
