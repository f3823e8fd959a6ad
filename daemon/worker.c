/*
 * worker.c: see worker.h.
 *
 * The loop: mailbox, capture (or the next retry), poll for packets or the mailbox's eventfd
 * for at most WORKER_POLL_MS, read up to READS_PER_LOOP batches, tick the pipeline with the
 * wall clock, publish the counters. Only the stop request makes the thread flush and leave.
 */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define BATCH          256
#define READS_PER_LOOP 16
#define TICK_MS        250 /* wall-clock expiry at least this often */
#define PUBLISH_MS     200
#define RETRY_FIRST_MS 1000
#define RETRY_MAX_MS   30000
#define STABLE_MS      10000 /* a capture up this long resets the backoff */

struct nfs_worker {
    char label[40];
    char interface[16];
    char *bpf;
    struct nfs_live_options lo;
    struct nfs_pipeline *pipeline;
    struct nfs_live *live;
    struct nfs_export_queue *queue;
    struct nfs_frame frames[BATCH];
    pthread_t thread;
    bool started;
    int wake_fd;
    /* retry */
    uint64_t retry_at_ms, retry_delay_ms, opened_ms;
    struct nfs_live_stats closed; /* kernel figures of capture sockets already closed */
    uint64_t read_open;           /* frames read from the open capture socket */
    uint64_t discarded;           /* frames left in the rings of closed sockets */
    uint64_t handover_skipped, exported, queue_full;
    uint64_t last_tick_ms, last_publish_ms;
    /* mailbox, under lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct nfs_export_queue *new_queue;
    bool new_timeouts;
    struct nfs_flow_options timeouts;
    atomic_bool stop;
    _Atomic uint64_t until_us; /* with stop: meter frames stamped before this only (0: all) */
    uint64_t from_us;          /* meter frames stamped from this on only */
    /* published, under lock */
    struct nfs_worker_snap snap;
};

static void
emit(void *ctx, const struct nfs_record *rec, const void *const *groups)
{
    struct nfs_worker *w = ctx;

    if (nfs_export_queue_push(w->queue, rec->ip_version, groups))
        w->exported++;
    else
        w->queue_full++;
}

static void
wake(struct nfs_worker *w)
{
    uint64_t one = 1;

    if (write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        nfs_log_debug("%s: eventfd: %s", w->label, strerror(errno));
}

struct nfs_worker *
nfs_worker_create(const struct nfs_live_options *opt, const struct nfs_pipeline_options *po,
                  const char *label, bool *fatal, struct nfs_error *err)
{
    struct nfs_worker *w = calloc(1, sizeof(*w));
    enum nfs_live_failure why;
    struct nfs_error e;

    *fatal = true;
    if (w == NULL) {
        nfs_error_set(err, "out of memory");
        return NULL;
    }
    snprintf(w->label, sizeof(w->label), "%s", label);
    snprintf(w->interface, sizeof(w->interface), "%s", opt->interface);
    w->bpf = strdup(opt->bpf ? opt->bpf : "");
    w->lo = *opt;
    w->lo.interface = w->interface;
    w->lo.bpf = w->bpf;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->retry_delay_ms = RETRY_FIRST_MS;
    if (w->bpf == NULL || w->wake_fd < 0) {
        nfs_error_set(err, "%s: %s", label, w->bpf ? strerror(errno) : "out of memory");
        nfs_worker_destroy(w);
        return NULL;
    }
    w->pipeline = nfs_pipeline_create(po, emit, w, err);
    if (w->pipeline == NULL) {
        nfs_worker_destroy(w);
        return NULL;
    }
    w->live = nfs_live_open(&w->lo, &why, &e);
    if (w->live == NULL && (why == NFS_LIVE_PERMISSION || why == NFS_LIVE_BAD_FILTER)) {
        *err = e;
        nfs_worker_destroy(w);
        return NULL;
    }
    *fatal = false;
    w->opened_ms = nfs_mono_ms();
    if (w->live == NULL) {
        nfs_log_warn("%s; retrying every %u s at first", e.msg, RETRY_FIRST_MS / 1000);
        w->snap.state = NFS_WORKER_RETRYING;
        snprintf(w->snap.why, sizeof(w->snap.why), "%.150s", e.msg);
        w->retry_at_ms = nfs_mono_ms() + w->retry_delay_ms;
    }
    w->snap.beat_ms = nfs_mono_ms();
    return w;
}

/* The pipeline's counters with the worker's own: capture socket and export queue (loss.h). */
static void
counters_now(struct nfs_worker *w, struct nfs_counters *c)
{
    struct nfs_live_stats k = {0};

    *c = *nfs_pipeline_counters(w->pipeline);
    if (w->live != NULL)
        nfs_live_stats(w->live, &k);
    c->v[NFS_C_PACKETS] += w->handover_skipped;
    c->v[NFS_C_HANDOVER] = w->handover_skipped;
    c->v[NFS_C_FLOWS_EXPORTED] = w->exported;
    c->v[NFS_C_FLOWS_QUEUE_FULL] = w->queue_full;
    c->v[NFS_C_FLOWS_OPEN] = nfs_pipeline_active_flows(w->pipeline);
    c->v[NFS_C_KERNEL_SEEN] = w->closed.seen + k.seen;
    c->v[NFS_C_KERNEL_DROPPED] = w->closed.dropped + k.dropped;
    c->v[NFS_C_IF_DROPPED] = w->closed.if_dropped + k.if_dropped;
    c->v[NFS_C_RING_WAITING] = k.seen - k.dropped - w->read_open;
    c->v[NFS_C_RING_DISCARDED] = w->discarded;
}

/* Copies the counters out for the main thread. */
static void
publish(struct nfs_worker *w, uint64_t now_ms)
{
    struct nfs_counters c;
    uint64_t drops;

    counters_now(w, &c);
    drops = c.v[NFS_C_KERNEL_DROPPED] + c.v[NFS_C_IF_DROPPED];
    pthread_mutex_lock(&w->lock);
    w->snap.counters = c;
    w->snap.drops = drops;
    w->snap.active_flows = nfs_pipeline_active_flows(w->pipeline);
    w->snap.beat_ms = now_ms;
    w->snap.state = w->live ? NFS_WORKER_CAPTURING : NFS_WORKER_RETRYING;
    pthread_mutex_unlock(&w->lock);
    w->last_publish_ms = now_ms;
}

static void
capture_failed(struct nfs_worker *w, const char *msg, uint64_t now_ms)
{
    struct nfs_live_stats k;

    nfs_live_stats(w->live, &k);
    w->closed.seen += k.seen;
    w->closed.dropped += k.dropped;
    w->closed.if_dropped += k.if_dropped;
    w->discarded += k.seen - k.dropped - w->read_open;
    w->read_open = 0;
    nfs_live_close(w->live);
    w->live = NULL;
    if (now_ms - w->opened_ms >= STABLE_MS)
        w->retry_delay_ms = RETRY_FIRST_MS;
    nfs_log_warn("%s; capturing again when it comes back (next try in %llu s)", msg,
                 (unsigned long long)(w->retry_delay_ms / 1000));
    pthread_mutex_lock(&w->lock);
    snprintf(w->snap.why, sizeof(w->snap.why), "%.150s", msg);
    pthread_mutex_unlock(&w->lock);
    w->retry_at_ms = now_ms + w->retry_delay_ms;
}

static void
retry(struct nfs_worker *w, uint64_t now_ms)
{
    enum nfs_live_failure why;
    struct nfs_error e;

    w->live = nfs_live_open(&w->lo, &why, &e);
    if (w->live != NULL) {
        nfs_log_info("%s: capturing again", w->label);
        w->opened_ms = now_ms;
        return;
    }
    nfs_log_debug("%s (next try in %llu s)", e.msg, (unsigned long long)w->retry_delay_ms / 1000);
    pthread_mutex_lock(&w->lock);
    snprintf(w->snap.why, sizeof(w->snap.why), "%.150s", e.msg);
    pthread_mutex_unlock(&w->lock);
    if (w->retry_delay_ms < RETRY_MAX_MS)
        w->retry_delay_ms =
            w->retry_delay_ms * 2 < RETRY_MAX_MS ? w->retry_delay_ms * 2 : RETRY_MAX_MS;
    w->retry_at_ms = now_ms + w->retry_delay_ms;
}

static void
mailbox(struct nfs_worker *w)
{
    uint64_t v;

    if (read(w->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        nfs_log_debug("%s: eventfd: %s", w->label, strerror(errno));
    pthread_mutex_lock(&w->lock);
    if (w->new_queue != NULL) {
        w->queue = w->new_queue;
        w->new_queue = NULL;
        pthread_cond_broadcast(&w->cond);
    }
    if (w->new_timeouts) {
        nfs_pipeline_set_timeouts(w->pipeline, &w->timeouts);
        w->new_timeouts = false;
    }
    pthread_mutex_unlock(&w->lock);
}

/* Keeps the frames stamped in [from_us, until_us): a restart's handover (nfs_worker_stop). */
static int
handover(struct nfs_worker *w, int n)
{
    uint64_t until = atomic_load(&w->until_us);
    int k = 0;

    if (w->from_us == 0 && until == 0)
        return n;
    for (int i = 0; i < n; i++)
        if (w->frames[i].ts_us >= w->from_us && (until == 0 || w->frames[i].ts_us < until))
            w->frames[k++] = w->frames[i];
    return k;
}

/* Reads what the capture holds; false when it failed. */
static bool
read_capture(struct nfs_worker *w, short revents)
{
    struct nfs_error e;
    int n = 0, k;

    for (int i = 0; i < READS_PER_LOOP; i++) {
        n = nfs_live_read(w->live, w->frames, BATCH, &e);
        if (n < 0) {
            capture_failed(w, e.msg, nfs_mono_ms());
            return false;
        }
        if (n == 0)
            break;
        w->read_open += (uint64_t)n;
        k = handover(w, n);
        w->handover_skipped += (uint64_t)(n - k);
        nfs_pipeline_frames(w->pipeline, w->frames, (size_t)k);
    }
    if (n == 0 && (revents & (POLLERR | POLLHUP | POLLNVAL))) {
        char msg[96];

        snprintf(msg, sizeof(msg), "%s: capture socket error", w->label);
        capture_failed(w, msg, nfs_mono_ms());
        return false;
    }
    return true;
}

static void *
run(void *arg)
{
    struct nfs_worker *w = arg;
    uint64_t drain_end = 0;

    while (true) {
        struct pollfd pfd[2] = {{.fd = w->wake_fd, .events = POLLIN}};
        uint64_t now = nfs_mono_ms();
        int timeout = WORKER_POLL_MS;

        if (atomic_load(&w->stop) && drain_end == 0)
            drain_end = now + WORKER_DRAIN_MS;
        if (drain_end != 0 && (now >= drain_end || w->live == NULL))
            break;
        if (drain_end != 0 && drain_end - now < (uint64_t)timeout)
            timeout = (int)(drain_end - now);
        mailbox(w);
        if (w->live == NULL && now >= w->retry_at_ms)
            retry(w, now);
        if (w->live != NULL)
            pfd[1] = (struct pollfd){.fd = nfs_live_fd(w->live), .events = POLLIN};
        else if (w->retry_at_ms - now < (uint64_t)timeout)
            timeout = (int)(w->retry_at_ms - now);
        if (poll(pfd, w->live ? 2 : 1, timeout) > 0 && w->live && pfd[1].revents)
            read_capture(w, pfd[1].revents);
        now = nfs_mono_ms();
        if (now - w->last_tick_ms >= TICK_MS) {
            nfs_pipeline_tick(w->pipeline, nfs_wall_us());
            w->last_tick_ms = now;
        }
        if (now - w->last_publish_ms >= PUBLISH_MS)
            publish(w, now);
    }
    mailbox(w);
    nfs_export_queue_set_blocking(w->queue, true);
    nfs_pipeline_flush(w->pipeline);
    publish(w, nfs_mono_ms());
    return NULL;
}

bool
nfs_worker_start(struct nfs_worker *w, struct nfs_export_queue *q, uint64_t from_us,
                 struct nfs_error *err)
{
    int rc;

    w->queue = q;
    w->from_us = from_us;
    rc = pthread_create(&w->thread, NULL, run, w);
    if (rc != 0) {
        nfs_error_set(err, "%s: cannot start a thread: %s", w->label, strerror(rc));
        return false;
    }
    w->started = true;
    return true;
}

void
nfs_worker_swap_queue(struct nfs_worker *w, struct nfs_export_queue *q)
{
    pthread_mutex_lock(&w->lock);
    w->new_queue = q;
    wake(w);
    while (w->new_queue != NULL && !atomic_load(&w->stop))
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

void
nfs_worker_set_timeouts(struct nfs_worker *w, const struct nfs_flow_options *flows)
{
    pthread_mutex_lock(&w->lock);
    w->timeouts = *flows;
    w->new_timeouts = true;
    pthread_mutex_unlock(&w->lock);
    wake(w);
}

void
nfs_worker_stop(struct nfs_worker *w, uint64_t until_us)
{
    if (!atomic_load(&w->stop))
        atomic_store(&w->until_us, until_us);
    atomic_store(&w->stop, true);
    wake(w);
}

void
nfs_worker_join(struct nfs_worker *w)
{
    if (w->started) {
        nfs_worker_stop(w, 0);
        pthread_join(w->thread, NULL);
        w->started = false;
    }
}

void
nfs_worker_destroy(struct nfs_worker *w)
{
    if (w == NULL)
        return;
    nfs_worker_join(w);
    nfs_live_close(w->live);
    nfs_pipeline_destroy(w->pipeline);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w->bpf);
    free(w);
}

void
nfs_worker_snapshot(struct nfs_worker *w, struct nfs_worker_snap *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->snap;
    pthread_mutex_unlock(&w->lock);
}

const char *
nfs_worker_label(const struct nfs_worker *w)
{
    return w->label;
}
