/*
 * export_harness.c: drives the exporter library the way a pipeline does, for the export
 * integration tests (test_export_*.py) and until the daemon exposes every collector option.
 *
 *   export_harness [--records N] [--rate PER_S] [--dropping] [--queue N] [--stats-interval S]
 *                  [--drain-ms MS] [--flush-ms MS] COLLECTOR-OPTIONS... --collector TARGET ...
 * where COLLECTOR-OPTIONS, given before the --collector they apply to, are --spool BYTES,
 * --spool-dir DIR, --spool-disk BYTES, --replay BYTES, --rotate-s S, --rotate-bytes BYTES,
 * --message-size BYTES, --refresh-messages N, --no-require-connect, --netflow9 (format:
 * netflow9).
 *
 * Record i (0-based) is an IPv4 UDP biflow with flowId i, source 10.(i>>16).(i>>8).i port
 * 1024 + i % 50000, destination 192.0.2.1:53, i % 7 + 1 packets each way. Records are pushed
 * from a producer thread through nfs_exporter_queue, paced to --rate, then the exporter is
 * closed. Prints every counter (nfs_exporter_print_stats) on stdout, then "result ok" or
 * "result fail: MESSAGE"; the exit code is 0 either way unless the arguments are wrong (2).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "exporter.h"
#include "synth_record.h"

#define MAX_TARGETS 8

struct run {
    uint64_t records, rate;
    bool dropping;
    struct nfs_export_queue *q;
    uint64_t dropped;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *
produce(void *arg)
{
    struct run *run = arg;
    uint64_t start = now_ns();
    struct nfs_record r;

    for (uint64_t i = 0; i < run->records; i++) {
        const void *values[1] = {&r};

        if (run->rate != 0) {
            uint64_t due = start + i * 1000000000ull / run->rate;

            uint64_t t = now_ns();

            if (t < due)
                usleep((useconds_t)((due - t) / 1000));
        }
        nfs_synth_record(i, &r);
        if (!nfs_export_queue_push(run->q, 4, values))
            run->dropped++;
    }
    return NULL;
}

static uint64_t
num(const char *s)
{
    return strtoull(s, NULL, 0);
}

int
main(int argc, char **argv)
{
    struct nfs_exporter_options eo;
    struct nfs_collector_options co[MAX_TARGETS], cur;
    struct run run = {.records = 1000};
    struct nfs_error err = {{0}};
    struct nfs_exporter *exp;
    size_t n = 0;
    pthread_t t;
    bool ok;

    nfs_exporter_options_default(&eo);
    nfs_collector_options_default(&cur, NULL);
    cur.message_size = 0; /* the target's default */
    cur.require_connect = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--dropping") == 0) {
            run.dropping = true;
            continue;
        }
        if (strcmp(a, "--no-require-connect") == 0) {
            cur.require_connect = false;
            continue;
        }
        if (strcmp(a, "--netflow9") == 0) {
            cur.profile.format = NFS_EXPORT_NETFLOW9;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "export_harness: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--records") == 0) run.records = num(v);
        else if (strcmp(a, "--rate") == 0) run.rate = num(v);
        else if (strcmp(a, "--queue") == 0) eo.queue_records = (uint32_t)num(v);
        else if (strcmp(a, "--stats-interval") == 0) eo.stats_interval_s = (uint32_t)num(v);
        else if (strcmp(a, "--drain-ms") == 0) eo.drain_timeout_ms = (uint32_t)num(v);
        else if (strcmp(a, "--flush-ms") == 0) eo.flush_ms = (uint32_t)num(v);
        else if (strcmp(a, "--spool") == 0) cur.spool_bytes = num(v);
        else if (strcmp(a, "--spool-dir") == 0) cur.spool_dir = v;
        else if (strcmp(a, "--spool-disk") == 0) cur.spool_disk_bytes = num(v);
        else if (strcmp(a, "--replay") == 0) cur.replay_bytes = num(v);
        else if (strcmp(a, "--rotate-s") == 0) cur.rotate_s = (uint32_t)num(v);
        else if (strcmp(a, "--rotate-bytes") == 0) cur.rotate_bytes = num(v);
        else if (strcmp(a, "--message-size") == 0) cur.message_size = (uint32_t)num(v);
        else if (strcmp(a, "--refresh-messages") == 0)
            cur.template_refresh_messages = (uint32_t)num(v);
        else if (strcmp(a, "--collector") == 0 && n < MAX_TARGETS) {
            cur.target = v;
            co[n++] = cur;
            nfs_collector_options_default(&cur, NULL);
            cur.message_size = 0;
            cur.require_connect = true;
        } else {
            fprintf(stderr, "export_harness: unknown option %s\n", a);
            return 2;
        }
    }
    exp = nfs_exporter_create(&eo, &err);
    if (exp == NULL) {
        printf("result fail: %s\n", err.msg);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!nfs_exporter_add_collector(exp, &co[i], &err)) {
            printf("result fail: %s\n", err.msg);
            nfs_exporter_close(exp, NULL);
            return 0;
        }
    }
    run.q = nfs_exporter_queue(exp, !run.dropping, &err);
    if (run.q == NULL || pthread_create(&t, NULL, produce, &run) != 0) {
        printf("result fail: %s\n", err.msg);
        nfs_exporter_close(exp, NULL);
        return 0;
    }
    pthread_join(t, NULL);
    printf("harness.pushed %" PRIu64 "\nharness.dropped %" PRIu64 "\n", run.records - run.dropped,
           run.dropped);
    ok = nfs_exporter_stop(exp, &err); /* drains: the counters are final */
    nfs_exporter_print_stats(exp, stdout);
    nfs_exporter_close(exp, NULL);
    if (ok)
        printf("result ok\n");
    else
        printf("result fail: %s\n", err.msg);
    return 0;
}
