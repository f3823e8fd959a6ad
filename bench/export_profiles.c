/*
 * export_profiles.c: what each collector profile costs the export thread.
 *
 * N synthetic IPv4 flows (synth_record.h: both directions with packets) go through the exporter's blocking
 * queue to one UDP collector per run (127.0.0.1, a socket this program never reads: sends
 * past its buffer fail and are counted, which costs the same as a send), with the profile:
 *   ipfix      the default: IPFIX biflows
 *   uniflow    records: uniflow (two records per flow)
 *   total      counters: total, fields: iana-only
 *   netflow9   format: netflow9
 *   anonymise  anonymize.key_file (Crypto-PAn of both addresses)
 *   all five   five collectors, one per profile above (five encoders)
 * Prints flows per second (wall clock, push to flush) and the process CPU time per flow, median
 * of the rounds, interleaved.
 *
 *   export_profiles [--flows N] [--rounds R]
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "exporter.h"
#include "synth_record.h"

#define MAX_ROUNDS 15
#define N_CASES    6

static double
now_s(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* One run: returns wall seconds, *cpu the process CPU seconds. */
static double
run(const struct nfs_export_profile *profiles, size_t n_prof, const char *target, uint64_t flows,
    double *cpu)
{
    struct nfs_exporter_options eo;
    struct nfs_exporter *exp;
    struct nfs_error err;
    struct nfs_record rec;
    double t0, c0;

    nfs_exporter_options_default(&eo);
    eo.stats_records = false;
    if ((exp = nfs_exporter_create(&eo, &err)) == NULL)
        return fprintf(stderr, "%s\n", err.msg), exit(1), 0;
    for (size_t i = 0; i < n_prof; i++) {
        struct nfs_collector_options co;

        nfs_collector_options_default(&co, target);
        co.profile = profiles[i];
        if (!nfs_exporter_add_collector(exp, &co, &err))
            return fprintf(stderr, "%s\n", err.msg), exit(1), 0;
    }
    t0 = now_s(CLOCK_MONOTONIC);
    c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (uint64_t i = 0; i < flows; i++) {
        nfs_synth_record(i, &rec);
        nfs_exporter_export(exp, &rec, &err);
    }
    nfs_exporter_flush(exp, &err);
    *cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    t0 = now_s(CLOCK_MONOTONIC) - t0;
    nfs_exporter_close(exp, NULL);
    return t0;
}

int
main(int argc, char **argv)
{
    uint64_t flows = 200000;
    int rounds = 5, fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    char target[64], key_path[] = "/tmp/nfs-bench-key-XXXXXX";
    int kfd = mkstemp(key_path);
    uint8_t key[32];
    static const char *names[N_CASES] = {"ipfix",    "uniflow",   "total",
                                         "netflow9", "anonymise", "all five"};
    struct nfs_export_profile p[5] = {{0}};
    double wall[N_CASES][MAX_ROUNDS], cpu[N_CASES][MAX_ROUNDS];

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--flows") == 0)
            flows = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[i + 1]);
    }
    if (rounds < 1 || rounds > MAX_ROUNDS)
        rounds = 5;
    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(fd, (struct sockaddr *)&sa, &len);
    snprintf(target, sizeof(target), "udp://127.0.0.1:%u", ntohs(sa.sin_port));
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 37 + 11);
    if (kfd < 0 || write(kfd, key, sizeof(key)) != (ssize_t)sizeof(key))
        return fprintf(stderr, "cannot write %s\n", key_path), 1;
    close(kfd);
    p[1].records = NFS_EXPORT_UNIFLOW;
    p[2].counters = NFS_EXPORT_TOTAL;
    p[2].iana_only = true;
    p[3].format = NFS_EXPORT_NETFLOW9;
    p[4].key_file = key_path;
    for (int r = 0; r < rounds; r++)
        for (int c = 0; c < N_CASES; c++)
            wall[c][r] = c < 5 ? run(&p[c], 1, target, flows, &cpu[c][r])
                               : run(p, 5, target, flows, &cpu[c][r]);
    printf("export_profiles: %" PRIu64 " flows per run, median of %d rounds\n", flows, rounds);
    printf("%-10s %14s %16s\n", "profile", "flows/s", "CPU us/flow");
    for (int c = 0; c < N_CASES; c++) {
        qsort(wall[c], (size_t)rounds, sizeof(double), compare);
        qsort(cpu[c], (size_t)rounds, sizeof(double), compare);
        printf("%-10s %14.0f %16.2f\n", names[c], (double)flows / wall[c][rounds / 2],
               cpu[c][rounds / 2] * 1e6 / (double)flows);
    }
    unlink(key_path);
    close(fd);
    return 0;
}
