/*
 * export_stall.c: does a slow or stalled collector slow capture down? (issue 6's benchmark)
 *
 * One pipeline meters synthetic traffic from memory (so the figure is the packet path's own
 * speed, not the disk's) and hands every ended flow to the exporter through a dropping queue,
 * as live capture does. The same traffic runs with:
 *   none       no exporter at all (the floor)
 *   tcp        a TCP collector that reads everything
 *   stalled    a TCP collector that accepts and never reads
 *   udp        a UDP collector nobody listens on
 * in interleaved rounds (round 1 of each, then round 2, ...), median of the rounds. Prints
 * packets per second of the pipeline thread (wall clock) and the CPU time it spent per packet
 * (CLOCK_THREAD_CPUTIME_ID: the packet path's own cost, unaffected by other processes taking
 * the CPU on a busy machine), relative to `none`, and where the records went:
 * exported, refused by a full queue (exporter.queue_full: the export thread was behind), or
 * dropped by a full spool (exporter.spool_full: the collector was behind).
 *
 *   export_stall [--flows N] [--packets-per-flow P] [--rounds R]
 *
 * Live capture's kernel drops follow from the same fact measured here: the packet loop never
 * waits for export, so it drains the socket ring at the same speed with or without a
 * collector.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pcap/dlt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "exporter.h"
#include "pipeline.h"

#define FRAME_LEN 74
#define WINDOW    20000 /* flows active at once */

enum mode { M_NONE, M_TCP, M_STALLED, M_UDP, M_COUNT };
static const char *const mode_names[] = {"none", "tcp", "stalled", "udp"};

struct server {
    int lfd, port;
    bool read_all;
    atomic_bool stop;
    pthread_t thread;
};

struct result {
    double pps, cpu_ns; /* wall packets/s; CPU ns per packet of the pipeline thread */
    uint64_t records, exported, queue_full, spool_full;
};

static uint64_t emitted;

static double
cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Ethernet + IPv4 + UDP, flow f: 10.x.y.z:(f % 60000 + 1024) -> 192.0.2.1:53, dir 1 reversed. */
static void
frame(uint8_t *b, uint32_t f, int dir)
{
    uint8_t a[4] = {10, (uint8_t)(f >> 16), (uint8_t)(f >> 8), (uint8_t)f};
    uint8_t c[4] = {192, 0, 2, 1};
    uint16_t sp = (uint16_t)(1024 + f % 60000), dp = 53;

    memset(b, 0, FRAME_LEN);
    b[12] = 0x08;
    b[14] = 0x45;
    b[16] = 0;
    b[17] = FRAME_LEN - 14;
    b[22] = 64;
    b[23] = 17;
    memcpy(b + 26, dir ? c : a, 4);
    memcpy(b + 30, dir ? a : c, 4);
    b[34] = (uint8_t)((dir ? dp : sp) >> 8);
    b[35] = (uint8_t)(dir ? dp : sp);
    b[36] = (uint8_t)((dir ? sp : dp) >> 8);
    b[37] = (uint8_t)(dir ? sp : dp);
    b[39] = FRAME_LEN - 34;
}

static void *
serve(void *arg)
{
    struct server *s = arg;
    char buf[65536];
    int fd = accept(s->lfd, NULL, NULL);

    while (fd >= 0 && !atomic_load(&s->stop)) {
        if (!s->read_all) {
            usleep(10000);
            continue;
        }
        if (recv(fd, buf, sizeof(buf), 0) <= 0)
            break;
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static bool
server_start(struct server *s, bool read_all)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);

    s->read_all = read_all;
    atomic_init(&s->stop, false);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s->lfd, 4) != 0 || getsockname(s->lfd, (struct sockaddr *)&a, &len) != 0)
        return false;
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->thread, NULL, serve, s) == 0;
}

static void
server_stop(struct server *s)
{
    atomic_store(&s->stop, true);
    shutdown(s->lfd, SHUT_RDWR);
    close(s->lfd);
    pthread_join(s->thread, NULL);
}

static void
count_only(void *ctx, const struct nfs_record *rec, const void *const *groups)
{
    (void)ctx, (void)rec, (void)groups;
    emitted++;
}

static void
to_queue(void *ctx, const struct nfs_record *rec, const void *const *groups)
{
    emitted++;
    nfs_export_queue_emit(ctx, rec, groups);
}

static unsigned
closed_udp_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    unsigned port = 9;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static bool
run(enum mode m, uint32_t flows, uint32_t ppf, struct result *r)
{
    struct nfs_pipeline_options po;
    struct nfs_exporter_options eo;
    struct nfs_exporter *exp = NULL;
    struct nfs_export_queue *q = NULL;
    struct nfs_pipeline *p;
    struct nfs_error err = {{0}};
    struct server srv = {0};
    uint8_t buf[FRAME_LEN];
    uint64_t ts = 1700000000ull * 1000000, packets = 0;
    char target[64];
    double t0, t1, c0, c1;

    memset(&po, 0, sizeof(po));
    nfs_pipeline_options_default(&po, false);
    po.flows.idle_timeout_ms = 1000;
    if (m != M_NONE) {
        nfs_exporter_options_default(&eo);
        eo.drain_timeout_ms = 200;
        exp = nfs_exporter_create(&eo, &err);
        if (m == M_TCP || m == M_STALLED) {
            if (!server_start(&srv, m == M_TCP))
                return false;
            snprintf(target, sizeof(target), "tcp://127.0.0.1:%d", srv.port);
        } else {
            snprintf(target, sizeof(target), "udp://127.0.0.1:%u", closed_udp_port());
        }
        if (exp == NULL || !nfs_exporter_add(exp, target, &err) ||
            (q = nfs_exporter_queue(exp, false, &err)) == NULL) {
            fprintf(stderr, "export_stall: %s\n", err.msg);
            return false;
        }
    }
    p = nfs_pipeline_create(&po, m == M_NONE ? count_only : to_queue, q, &err);
    if (p == NULL) {
        fprintf(stderr, "export_stall: %s\n", err.msg);
        return false;
    }
    emitted = 0;
    t0 = now_s();
    c0 = cpu_s();
    /* Windows of WINDOW flows, each flow ppf packets alternating direction, 1 us apart. */
    for (uint32_t base = 0; base < flows; base += WINDOW) {
        for (uint32_t k = 0; k < ppf; k++) {
            for (uint32_t f = base; f < base + WINDOW && f < flows; f++) {
                frame(buf, f, (int)(k & 1));
                nfs_pipeline_packet(p, DLT_EN10MB, ts++, FRAME_LEN, FRAME_LEN, buf);
                packets++;
            }
        }
    }
    t1 = now_s();
    c1 = cpu_s();
    nfs_pipeline_flush(p);
    nfs_pipeline_destroy(p);
    memset(r, 0, sizeof(*r));
    r->pps = (double)packets / (t1 - t0);
    r->cpu_ns = (c1 - c0) * 1e9 / (double)packets;
    r->records = emitted;
    if (exp != NULL) {
        struct nfs_exporter_totals t;
        struct nfs_exporter_stats s;

        nfs_exporter_stop(exp, NULL);
        nfs_exporter_get_totals(exp, &t);
        nfs_exporter_get_stats(exp, 0, &s);
        r->queue_full = t.queue_full;
        r->spool_full = s.spool_full;
        r->exported = s.sent;
        nfs_exporter_close(exp, NULL);
        if (m == M_TCP || m == M_STALLED)
            server_stop(&srv);
    } else {
        r->exported = 0;
    }
    return true;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    uint32_t flows = 400000, ppf = 4, rounds = 3;
    struct result res[M_COUNT][16];
    double base = 0, base_cpu = 0;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--flows") == 0)
            flows = (uint32_t)strtoul(argv[i + 1], NULL, 0);
        else if (strcmp(argv[i], "--packets-per-flow") == 0)
            ppf = (uint32_t)strtoul(argv[i + 1], NULL, 0);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = (uint32_t)strtoul(argv[i + 1], NULL, 0);
    }
    if (rounds == 0 || rounds > 16)
        rounds = 3;
    printf("export_stall: %u flows x %u packets, %u rounds, median; dropping queue (live)\n",
           flows, ppf, rounds);
    for (uint32_t r = 0; r < rounds; r++)
        for (int m = 0; m < M_COUNT; m++)
            if (!run((enum mode)m, flows, ppf, &res[m][r]))
                return 1;
    printf("%-8s %8s %8s %12s %8s %9s %9s %11s %11s\n", "mode", "Mpps", "vs none",
           "cpu ns/pkt", "vs none", "records", "exported", "queue_full", "spool_full");
    for (int m = 0; m < M_COUNT; m++) {
        double pps[16], cpu[16];
        struct result *mid = &res[m][0];

        for (uint32_t r = 0; r < rounds; r++) {
            pps[r] = res[m][r].pps;
            cpu[r] = res[m][r].cpu_ns;
        }
        qsort(pps, rounds, sizeof(double), cmp_double);
        qsort(cpu, rounds, sizeof(double), cmp_double);
        for (uint32_t r = 0; r < rounds; r++)
            if (res[m][r].pps == pps[rounds / 2])
                mid = &res[m][r];
        if (m == M_NONE) {
            base = pps[rounds / 2];
            base_cpu = cpu[rounds / 2];
        }
        printf("%-8s %8.2f %7.0f%% %12.0f %7.0f%% %9" PRIu64 " %9" PRIu64 " %11" PRIu64
               " %11" PRIu64 "\n",
               mode_names[m], pps[rounds / 2] / 1e6, 100.0 * pps[rounds / 2] / base,
               cpu[rounds / 2], 100.0 * cpu[rounds / 2] / base_cpu, mid->records,
               mid->exported, mid->queue_full, mid->spool_full);
    }
    return 0;
}
