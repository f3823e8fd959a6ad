/*
 * metrics.h: the loss counters (docs/counters.md) as Prometheus text exposition format 0.0.4.
 *
 * The caller gathers one snapshot per interface (the sum of its pipelines' published counters,
 * its exporter's totals and each collector's published statistics) and gets back the text that
 * /metrics serves and the textfile holds: a HELP and a TYPE line per family, then its samples,
 * every name prefixed nfsensor_, counters suffixed _total, labelled interface (and collector,
 * reason). Samples of a family stay together, as the format requires. Nothing here keeps
 * state or takes a lock.
 */
#ifndef NFS_METRICS_H
#define NFS_METRICS_H

#include <stdio.h>

#include "counters.h"
#include "exporter.h"

/* One collector of an interface's exporter. */
struct nfs_metrics_collector {
    const char *target; /* the collector label: udp://HOST:PORT, tcp://..., a file path */
    struct nfs_exporter_stats s;
};

/* One interface (or the input of an offline run). */
struct nfs_metrics_interface {
    const char *name;
    struct nfs_counters c; /* its pipelines' counters, summed */
    bool capturing;        /* every pipeline has its capture open */
    struct nfs_exporter_totals export;
    const struct nfs_metrics_collector *collectors;
    size_t n_collectors;
};

/* Writes the exposition text of n interfaces to out. */
void nfs_metrics_write(FILE *out, const struct nfs_metrics_interface *ifs, size_t n);

/* The same into a malloc'd string (*len its length); NULL when out of memory. */
char *nfs_metrics_text(const struct nfs_metrics_interface *ifs, size_t n, size_t *len);

/* Writes s as a label value: backslash, double quote and newline escaped (format 0.0.4). */
void nfs_metrics_label_value(FILE *out, const char *s);

/*
 * Replaces path with text for node_exporter's textfile collector: written to a temporary file
 * in the same directory, made world-readable and renamed over path, so a reader
 * never sees a partial file. False with err on failure (the old file stays).
 */
bool nfs_metrics_write_file(const char *path, const char *text, size_t len, struct nfs_error *err);

#endif
