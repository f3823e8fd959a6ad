/*
 * csv.h: ended flows as CSV with NFStream's column names and formats.
 *
 * The columns are those of the field groups (core, then each plugin's) that have a CSV name,
 * in order, so an NFStream user's pandas code reads nfsensor's file unchanged.
 */
#ifndef NFS_CSV_H
#define NFS_CSV_H

#include "common.h"
#include "fields.h"

struct nfs_csv;

/*
 * Opens path ("-" for stdout) and writes the header of these groups (copied; the tables must
 * outlive the sink). NULL and err on failure.
 */
struct nfs_csv *nfs_csv_open(const char *path, const struct nfs_field_group *groups,
                             size_t n_groups, struct nfs_error *err);

/* Appends one row: values[g] is group g's values block. False and err when the write fails. */
bool nfs_csv_write(struct nfs_csv *csv, unsigned ip_version, const void *const *values,
                   struct nfs_error *err);

/* Flushes and closes; false and err when the final write fails. NULL-safe. */
bool nfs_csv_close(struct nfs_csv *csv, struct nfs_error *err);

#endif
