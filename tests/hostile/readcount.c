/*
 * readcount.c: reads capture files the way nfsensord does (capture -> pipeline with the default
 * options and no plugins) and prints what was counted, for test_hostile.py: one line
 * "NAME VALUE" per non-zero counter (lib/counters.h names), "records N", then
 * "error: MESSAGE" and exit 1 when a file was unreadable or corrupt, else exit 0.
 *
 * usage: readcount [--cut-after-first-batch BYTES] FILE...
 *   --cut-after-first-batch: truncates the first FILE to BYTES once the first batch is read, as
 *   a file rotated or cut by another program while the sensor reads it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "pipeline.h"

static uint64_t records;

static void
count(void *ctx, const struct nfs_record *rec, const void *const *groups)
{
    (void)ctx, (void)rec, (void)groups;
    records++;
}

int
main(int argc, char **argv)
{
    struct nfs_pipeline_options opt;
    struct nfs_frame f[256];
    struct nfs_error err = {""};
    struct nfs_capture *cap;
    struct nfs_pipeline *p;
    const struct nfs_counters *c;
    long long cut_at = -1;
    int rc = 0, n, batches = 0;

    if (argc > 2 && strcmp(argv[1], "--cut-after-first-batch") == 0) {
        cut_at = atoll(argv[2]);
        argv += 2, argc -= 2;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: readcount [--cut-after-first-batch BYTES] FILE...\n");
        return 64;
    }
    nfs_pipeline_options_default(&opt, false);
    p = nfs_pipeline_create(&opt, count, NULL, &err);
    if (p == NULL) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    cap = nfs_capture_open_files((const char *const *)argv + 1, (size_t)argc - 1, NULL, &err);
    if (cap == NULL) {
        rc = 1;
    } else {
        while ((n = nfs_capture_next_batch(cap, f, (int)NFS_NITEMS(f), &err)) > 0) {
            nfs_pipeline_frames(p, f, (size_t)n);
            if (++batches == 1 && cut_at >= 0 && truncate(argv[1], (off_t)cut_at) != 0)
                perror(argv[1]);
        }
        rc = n < 0;
        nfs_capture_close(cap);
    }
    nfs_pipeline_flush(p);
    c = nfs_pipeline_counters(p);
    for (int i = 0; i < NFS_C_COUNT; i++)
        if (c->v[i] != 0)
            printf("%s %" PRIu64 "\n", nfs_counter_name((enum nfs_counter)i), c->v[i]);
    printf("records %" PRIu64 "\n", records);
    if (rc)
        printf("error: %s\n", err.msg);
    nfs_pipeline_destroy(p);
    return rc;
}
