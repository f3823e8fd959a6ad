/*
 * unit.h: one configured interface of the live daemon (live.c): its exporter and its pipeline
 * threads, and what a unit leaves behind when it stops.
 *
 * A unit is one configured interface: an exporter in the interface's observation domain (the
 * exporter has one domain, so each interface gets its own, with its own connections to the
 * collectors) and `workers` pipeline threads (worker.c), each with its own capture socket, flow
 * table, plugin state and export queue. A unit is built from a generation: a configuration
 * shared by the units built from it (their pipelines point at its plugin set, their exporters
 * at its field tables), freed with its last reference.
 * A stopped unit's exporter drains to its collectors on its own thread (that can take seconds
 * over TCP) and its counters join the retired totals, so the daemon's totals only grow.
 * Only the main thread calls these.
 */
#ifndef NFS_UNIT_H
#define NFS_UNIT_H

#include <pthread.h>
#include <stdatomic.h>

#include "config.h"
#include "exporter.h"
#include "worker.h"

#define NFS_MAX_UNITS NFS_CONFIG_MAX_INTERFACES

struct nfs_gen {
    struct nfs_config *cfg;
    atomic_int refs;
};

struct nfs_unit {
    struct nfs_config_interface ifc;
    struct nfs_gen *gen;     /* the pipelines' configuration */
    struct nfs_gen *exp_gen; /* the exporter's */
    struct nfs_exporter *exp;
    char *export_key; /* what the exporter was made from: same key, same exporter */
    struct nfs_worker *workers[64];
    size_t n_workers;
};

/* What stopped units leave: their counters, and their exporters still draining. */
struct nfs_retired {
    uint64_t packets, drops, records, queue_full;
    struct nfs_closer *closers;
    pthread_mutex_t closers_lock;
};

/* A generation holding cfg (one reference); NULL, cfg freed, when out of memory. */
struct nfs_gen *nfs_gen_new(struct nfs_config *cfg);
struct nfs_gen *nfs_gen_ref(struct nfs_gen *g);
void nfs_gen_unref(struct nfs_gen *g); /* NULL: nothing */

/* Everything interface ifc's exporter is made from, as one string (malloc'd; NULL: no memory). */
char *nfs_unit_export_key(const struct nfs_config *cfg, const struct nfs_config_interface *ifc);

/* Interface ifc's exporter, with cfg's collectors (one that is away is retried, not fatal). */
struct nfs_exporter *nfs_unit_exporter(const struct nfs_config *cfg,
                                       const struct nfs_config_interface *ifc,
                                       struct nfs_error *err);

/* A unit of g for ifc with its exporter made, nothing opened yet. */
struct nfs_unit *nfs_unit_prepare(struct nfs_gen *g, const struct nfs_config_interface *ifc,
                                  struct nfs_error *err);

/*
 * Creates the workers (pipelines and capture sockets), numbering their pipelines from
 * *next_pipeline on. False when one cannot be made at all (*fatal: a missing permission or a
 * bad filter); an interface that is absent or down is retried by its worker.
 */
bool nfs_unit_open(struct nfs_unit *u, unsigned *next_pipeline, bool *fatal, struct nfs_error *err);

/* Starts the workers' threads; frames stamped before from_us are left to the unit replaced. */
bool nfs_unit_start(struct nfs_unit *u, uint64_t from_us, struct nfs_error *err);

/*
 * Makes the workers export into exp (made from g, with export key key: both taken) between two
 * batches; the old exporter drains and closes on its own thread. On failure the old collectors
 * stay and exp and key are freed.
 */
void nfs_unit_switch_exporter(struct nfs_unit *u, struct nfs_gen *g, struct nfs_exporter *exp,
                              char *key, struct nfs_retired *r);

/*
 * Flushes every worker's flows (frames from until_us on are left to a replacement; 0: none),
 * retires its counters into r, lets the exporter drain on its own thread, and frees u.
 */
void nfs_unit_stop(struct nfs_unit *u, uint64_t until_us, struct nfs_retired *r);

/* Frees a unit that was never started or whose workers are stopped (NULL: nothing). */
void nfs_unit_free(struct nfs_unit *u);

/* The sum of a unit's worker snapshots (loss.h: one set of counters). */
void nfs_unit_snap(struct nfs_unit *u, struct nfs_worker_snap *sum);

/* Hands a unit's figures to its exporter's statistics records (RFC 7011 4.1, 4.2). */
void nfs_unit_report_metering(struct nfs_unit *u, const struct nfs_worker_snap *s);

void nfs_retired_init(struct nfs_retired *r);
/* Waits until every retired exporter has drained and closed. */
void nfs_retired_join(struct nfs_retired *r);
void nfs_retired_destroy(struct nfs_retired *r); /* after nfs_retired_join */

#endif
