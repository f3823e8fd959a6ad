/*
 * csv.c: see csv.h.
 *
 * Version-specific twins in a field table (sourceIPv4Address / sourceIPv6Address) share one
 * column: the header names it once, and each row takes the twin that applies to its IP version.
 * Text values are quoted as NFStream's writer quotes them; numbers are not.
 */
#include "csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_GROUPS 64

struct nfs_csv {
    FILE *fp;
    const char *path;
    struct nfs_field_group groups[MAX_GROUPS];
    size_t n_groups;
};

/* True when field i of g shares its column with the field before it (a version twin). */
static bool
twin_of_previous(const struct nfs_field_group *g, size_t i)
{
    return i > 0 && g->fields[i - 1].csv && strcmp(g->fields[i - 1].csv, g->fields[i].csv) == 0;
}

static void
write_header(const struct nfs_csv *csv)
{
    bool first = true;

    for (size_t g = 0; g < csv->n_groups; g++) {
        for (size_t i = 0; i < csv->groups[g].n_fields; i++) {
            const struct nfs_field *f = &csv->groups[g].fields[i];

            if (f->csv == NULL || twin_of_previous(&csv->groups[g], i))
                continue;
            fprintf(csv->fp, "%s%s", first ? "" : ",", f->csv);
            first = false;
        }
    }
    fputc('\n', csv->fp);
}

struct nfs_csv *
nfs_csv_open(const char *path, const struct nfs_field_group *groups, size_t n_groups,
             struct nfs_error *err)
{
    struct nfs_csv *csv = calloc(1, sizeof(*csv));

    if (csv == NULL || n_groups > MAX_GROUPS) {
        nfs_error_set(err, csv ? "too many field groups" : "out of memory");
        free(csv);
        return NULL;
    }
    csv->path = path;
    memcpy(csv->groups, groups, n_groups * sizeof(*groups));
    csv->n_groups = n_groups;
    csv->fp = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (csv->fp == NULL) {
        nfs_error_set(err, "%s: cannot write: %s", path, strerror(errno));
        free(csv);
        return NULL;
    }
    write_header(csv);
    return csv;
}

bool
nfs_csv_write(struct nfs_csv *csv, unsigned ip_version, const void *const *values,
              struct nfs_error *err)
{
    char value[NFS_FIELD_TEXT_MAX];
    bool first = true;

    for (size_t g = 0; g < csv->n_groups; g++) {
        for (size_t i = 0; i < csv->groups[g].n_fields; i++) {
            const struct nfs_field *f = &csv->groups[g].fields[i];

            if (f->csv == NULL || !nfs_field_applies(f, ip_version))
                continue;
            nfs_field_format(f, values[g], value, sizeof(value));
            fprintf(csv->fp, nfs_field_is_text(f) ? "%s\"%s\"" : "%s%s", first ? "" : ",",
                    value);
            first = false;
        }
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
