/*
 * csv.h: ended flows as CSV with NFStream's column names and formats.
 *
 * The columns are those of the field table that have a CSV name, in table order, so an
 * NFStream user's pandas code reads nfsensor's file unchanged.
 */
#ifndef NFS_CSV_H
#define NFS_CSV_H

#include "common.h"
#include "record.h"

struct nfs_csv;

/* Opens path ("-" for stdout) and writes the header. NULL and err on failure. */
struct nfs_csv *nfs_csv_open(const char *path, struct nfs_error *err);

/* Appends one row; false and err when the write fails (disk full...). */
bool nfs_csv_write(struct nfs_csv *csv, const struct nfs_record *rec, struct nfs_error *err);

/* Flushes and closes; false and err when the final write fails. NULL-safe. */
bool nfs_csv_close(struct nfs_csv *csv, struct nfs_error *err);

#endif
