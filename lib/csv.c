/*
 * csv.c: see csv.h.
 *
 * Version-specific twins in the field table (sourceIPv4Address / sourceIPv6Address) share one
 * column: the header names it once, and each row takes the twin that applies to its IP version.
 */
#include "csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "fields.h"

struct nfs_csv {
    FILE *fp;
    const char *path;
};

/* True when f shares its column with the field before it (a version twin). */
static bool
same_column_as_previous(size_t i)
{
    const struct nfs_field *f = &nfs_core_fields[i];

    return i > 0 && nfs_core_fields[i - 1].csv && strcmp(nfs_core_fields[i - 1].csv, f->csv) == 0;
}

static void
write_header(FILE *fp)
{
    bool first = true;

    for (size_t i = 0; i < nfs_core_fields_count; i++) {
        if (nfs_core_fields[i].csv == NULL || same_column_as_previous(i))
            continue;
        fprintf(fp, "%s%s", first ? "" : ",", nfs_core_fields[i].csv);
        first = false;
    }
    fputc('\n', fp);
}

struct nfs_csv *
nfs_csv_open(const char *path, struct nfs_error *err)
{
    struct nfs_csv *csv = calloc(1, sizeof(*csv));

    if (csv == NULL) {
        nfs_error_set(err, "out of memory");
        return NULL;
    }
    csv->path = path;
    csv->fp = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (csv->fp == NULL) {
        nfs_error_set(err, "%s: cannot write: %s", path, strerror(errno));
        free(csv);
        return NULL;
    }
    write_header(csv->fp);
    return csv;
}

bool
nfs_csv_write(struct nfs_csv *csv, const struct nfs_record *rec, struct nfs_error *err)
{
    char value[128];
    bool first = true;

    for (size_t i = 0; i < nfs_core_fields_count; i++) {
        const struct nfs_field *f = &nfs_core_fields[i];

        if (f->csv == NULL || !nfs_field_applies(f, rec->ip_version))
            continue;
        nfs_field_format(f, rec, value, sizeof(value));
        fprintf(csv->fp, nfs_field_is_text(f) ? "%s\"%s\"" : "%s%s", first ? "" : ",", value);
        first = false;
    }
    if (fputc('\n', csv->fp) == EOF) {
        nfs_error_set(err, "%s: write failed: %s", csv->path, strerror(errno));
        return false;
    }
    return true;
}

bool
nfs_csv_close(struct nfs_csv *csv, struct nfs_error *err)
{
    bool ok = true;

    if (csv == NULL)
        return true;
    if (fflush(csv->fp) != 0 || ferror(csv->fp)) {
        nfs_error_set(err, "%s: write failed: %s", csv->path, strerror(errno));
        ok = false;
    }
    if (csv->fp != stdout)
        fclose(csv->fp);
    free(csv);
    return ok;
}
