/*
 * exporter.c: the export thread: queues in, encoding once per profile, collectors out.
 *
 * Encoding. One encoder per distinct collector profile (export_encoder.c, export_profile.h),
 * owned by the export thread, encodes every record once for the collectors of that profile
 * (one encoder in the default case of every collector wanting full IPFIX biflows). Each record
 * is encoded and handed on as it leaves its queue; each item goes to the encoder's
 * collectors, which frame them into their own messages: transports, message sizes, sequence
 * numbers, spools and replays are the collectors' (collector.c).
 * An encoder's templates are its preamble, which its collectors send first (UDP again on
 * refresh, TCP on every connection, every new file).
 *
 * Queues. Each producer has a ring of slots (export_queue.c); a slot holds the IP version and
 * a flat copy of each field group's values block. Group 0 is the struct nfs_record; a
 * plugin's block is as long as its fields reach (their strings are char arrays), so a byte
 * copy is a complete copy.
 *
 * Statistics (RFC 7011 §4.1-4.3): three options templates, sent every stats_interval_s and at
 * close, per collector (its own exported counts): metering statistics, metering reliability
 * (ignored packets, kernel drops) and exporting reliability (records not sent).
 */
#include "exporter.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "collector.h"
#include "export_encoder.h"
#include "export_framer.h"
#include "export_queue.h"

#define MAX_QUEUES     64
#define MAX_COLLECTORS 64
#define BATCH          512 /* records taken from one queue before looking at the others */
#define PUBLISH_MS     100
#define QUIET_MS       200  /* no record for this long: sleep deeply */

struct slot_hdr {
    uint32_t ip_version;
    uint32_t present; /* bit g: group g has values */
    uint64_t packets, octets;
};

struct nfs_exporter {
    struct nfs_exporter_options opt;
    struct nfs_ipfix_model *model;
    /* collectors */
    struct nfs_collector *collectors[MAX_COLLECTORS];
    size_t n_collectors;
    /* records */
    struct nfs_field_group *groups; /* the exporter's tables (the model has its own copy) */
    size_t n_groups;
    size_t *group_off, *group_size;
    size_t slot_size;
    const void **values; /* nfs_exporter_export's groups */
    const void **enc_values;
    struct nfs_export_queue *queues[MAX_QUEUES];
    atomic_size_t n_queues;
    struct nfs_export_queue *own; /* the legacy API's queue */
    pthread_mutex_t lock;         /* queues, start, flush, metering */
    pthread_cond_t cond;
    struct nfs_export_wake wake;
    /* encoders, one per distinct profile; export thread only once started */
    struct nfs_export_encoder *enc[MAX_COLLECTORS];
    struct deliver_ctx {
        struct nfs_exporter *exp;
        size_t enc;
    } enc_ctx[MAX_COLLECTORS];
    size_t n_enc;
    size_t coll_enc[MAX_COLLECTORS]; /* collector i's encoder */
    int deliver_to; /* -1: every collector of the encoder */
    uint64_t items_ms; /* the clock items are delivered at: read per batch, not per record */
    uint64_t next_stats_ms, next_publish_ms;
    /* thread */
    pthread_t thread;
    bool started, stopped, stop_ok, draining;
    atomic_bool stop;
    atomic_uint_fast64_t flush_req;
    uint64_t flush_done;
    atomic_uint_fast64_t encoded, encode_errors;
    struct nfs_exporter_metering metering;
};

static void
options_defaults(struct nfs_exporter_options *o)
{
    if (o->enterprise_number == 0)
        o->enterprise_number = NFS_PEN_DEFAULT;
    if (o->observation_domain == 0)
        o->observation_domain = 1;
    if (o->template_refresh_s == 0)
        o->template_refresh_s = 600;
    if (o->queue_records == 0)
        o->queue_records = 65536;
    if (o->flush_ms == 0)
        o->flush_ms = 1000;
    if (o->stats_interval_s == 0)
        o->stats_interval_s = 60;
    if (o->drain_timeout_ms == 0)
        o->drain_timeout_ms = 30000;
}

void
nfs_exporter_options_default(struct nfs_exporter_options *o)
{
    memset(o, 0, sizeof(*o));
    o->rfc5610 = true;
    o->stats_records = true;
    options_defaults(o);
}

/* ------------------------------------------------------------------------------------------ */
/* Encoding: each encoder's items go to its collectors. */

static void
deliver(void *ctx, const struct nfs_ipfix_item *item)
{
    const struct deliver_ctx *d = ctx;
    struct nfs_exporter *exp = d->exp;

    for (size_t i = 0; i < exp->n_collectors; i++)
        if (exp->coll_enc[i] == d->enc && (exp->deliver_to < 0 || (size_t)exp->deliver_to == i))
            nfs_collector_add(exp->collectors[i], item, exp->items_ms);
}

/* ------------------------------------------------------------------------------------------ */
/* Statistics options records */

/* Collector i's three records, each with its own exported counts. */
static void
stats_for(struct nfs_exporter *exp, size_t i, uint64_t now, const struct nfs_exporter_metering *m,
          const struct nfs_exporter_totals *tot)
{
    struct nfs_export_encoder *e = exp->enc[exp->coll_enc[i]];
    uint32_t domain = exp->opt.observation_domain;
    uint64_t msgs, flows, bytes, ns, nsp, nso;
    struct nfs_error err;

    nfs_collector_sent_totals(exp->collectors[i], &msgs, &flows, &bytes, &ns, &nsp, &nso);
    exp->deliver_to = (int)i;
    {
        uint64_t v[] = {now, msgs, flows, bytes, m->flows, m->packets, m->octets};
        if (!nfs_export_encoder_stats(e, NFS_STATS_METERING, domain, v, NFS_NITEMS(v), &err))
            return; /* none (NetFlow v9) */
    }
    {
        uint64_t v[] = {now, m->ignored_packets, m->ignored_octets, m->kernel_drops};
        nfs_export_encoder_stats(e, NFS_STATS_METERING_RELIABILITY, domain, v, NFS_NITEMS(v), &err);
    }
    {
        uint64_t v[] = {now, ns + tot->queue_full + tot->encode_errors,
                        nsp + tot->queue_full_packets, nso + tot->queue_full_octets};
        nfs_export_encoder_stats(e, NFS_STATS_EXPORTING_RELIABILITY, (uint32_t)getpid(), v,
                                 NFS_NITEMS(v), &err);
    }
}

static void
send_stats(struct nfs_exporter *exp)
{
    struct nfs_exporter_metering m;
    struct nfs_exporter_totals tot;
    uint64_t now = nfs_wall_ms();

    if (!exp->opt.stats_records)
        return;
    exp->items_ms = nfs_mono_ms();
    pthread_mutex_lock(&exp->lock);
    m = exp->metering;
    pthread_mutex_unlock(&exp->lock);
    nfs_exporter_get_totals(exp, &tot);
    for (size_t i = 0; i < exp->n_collectors; i++)
        stats_for(exp, i, now, &m, &tot);
    exp->deliver_to = -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Creation */

static size_t
align16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* Where each group's block sits in a slot, and how long it is. */
static bool
slot_layout(struct nfs_exporter *exp, const struct nfs_field_group *groups, size_t n_groups,
            struct nfs_error *err)
{
    size_t off = align16(sizeof(struct slot_hdr));

    exp->n_groups = n_groups;
    exp->group_off = calloc(n_groups, sizeof(size_t));
    exp->group_size = calloc(n_groups, sizeof(size_t));
    exp->values = calloc(n_groups, sizeof(void *));
    exp->enc_values = calloc(n_groups, sizeof(void *));
    if (exp->group_off == NULL || exp->group_size == NULL || exp->values == NULL ||
        exp->enc_values == NULL || n_groups > 32) {
        nfs_error_set(err, n_groups > 32 ? "too many field groups" : "out of memory");
        return false;
    }
    for (size_t g = 0; g < n_groups; g++) {
        size_t size = g == 0 ? sizeof(struct nfs_record) : 0;

        for (size_t i = 0; i < groups[g].n_fields; i++) {
            const struct nfs_field *f = &groups[g].fields[i];

            if ((size_t)f->offset + f->size > size)
                size = (size_t)f->offset + f->size;
        }
        exp->group_off[g] = off;
        exp->group_size[g] = size;
        off += align16(size);
    }
    exp->slot_size = off;
    return true;
}

struct nfs_exporter *
nfs_exporter_create(const struct nfs_exporter_options *opt, struct nfs_error *err)
{
    struct nfs_exporter *exp = calloc(1, sizeof(*exp));
    struct nfs_field_group core = {nfs_core_fields, nfs_core_fields_count};
    const struct nfs_field_group *groups;
    size_t n_groups;

    if (exp == NULL) {
        nfs_error_set(err, "out of memory");
        return NULL;
    }
    if (opt != NULL) {
        exp->opt = *opt;
        options_defaults(&exp->opt);
    } else {
        nfs_exporter_options_default(&exp->opt);
    }
    groups = exp->opt.groups != NULL && exp->opt.n_groups > 0 ? exp->opt.groups : &core;
    n_groups = exp->opt.groups != NULL && exp->opt.n_groups > 0 ? exp->opt.n_groups : 1;
    exp->opt.groups = NULL; /* the model keeps its own copy */
    exp->deliver_to = -1;
    exp->wake.fd = -1;
    pthread_mutex_init(&exp->lock, NULL);
    pthread_cond_init(&exp->cond, NULL);
    exp->model = nfs_ipfix_model_create(groups, n_groups, exp->opt.enterprise_number, err);
    exp->groups = malloc(n_groups * sizeof(*groups));
    if (exp->groups != NULL)
        memcpy(exp->groups, groups, n_groups * sizeof(*groups));
    if (exp->model == NULL || exp->groups == NULL || !slot_layout(exp, groups, n_groups, err)) {
        nfs_exporter_close(exp, NULL);
        return NULL;
    }
    exp->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (exp->wake.fd < 0) {
        nfs_error_set(err, "eventfd: %s", strerror(errno));
        nfs_exporter_close(exp, NULL);
        return NULL;
    }
    return exp;
}

/* The encoder of this profile: an existing one, or a new one. SIZE_MAX on failure. */
static size_t
encoder_for(struct nfs_exporter *exp, const struct nfs_export_profile *p, struct nfs_error *err)
{
    struct nfs_export_encoder_options eo = {
        p,       exp->groups,       exp->n_groups,  exp->opt.enterprise_number,
        exp->opt.observation_domain, exp->opt.rfc5610, exp->opt.stats_records,
        deliver, &exp->enc_ctx[exp->n_enc],
    };

    for (size_t e = 0; e < exp->n_enc; e++)
        if (nfs_export_profile_equal(nfs_export_encoder_profile(exp->enc[e]), p))
            return e;
    exp->enc_ctx[exp->n_enc] = (struct deliver_ctx){exp, exp->n_enc};
    if ((exp->enc[exp->n_enc] = nfs_export_encoder_create(&eo, err)) == NULL)
        return SIZE_MAX;
    return exp->n_enc++;
}

bool
nfs_exporter_add_collector(struct nfs_exporter *exp, const struct nfs_collector_options *o,
                           struct nfs_error *err)
{
    struct nfs_collector_env env = {exp->opt.observation_domain, exp->opt.template_refresh_s,
                                    NULL, 0, (unsigned)exp->n_collectors, false};
    struct nfs_collector *c;
    struct nfs_error e;
    size_t enc;

    if (exp->started) {
        nfs_error_set(err, "%s: collectors are added before the first record", o->target);
        return false;
    }
    if (exp->n_collectors == MAX_COLLECTORS) {
        nfs_error_set(err, "%s: at most %d collectors", o->target, MAX_COLLECTORS);
        return false;
    }
    if (o->profile.format == NFS_EXPORT_NETFLOW9 && strncmp(o->target, "udp://", 6) != 0) {
        nfs_error_set(err, "%s: NetFlow v9 goes over UDP only (udp://HOST:PORT)", o->target);
        return false;
    }
    if ((enc = encoder_for(exp, &o->profile, &e)) == SIZE_MAX) {
        nfs_error_set(err, "%s: %s", o->target, e.msg);
        return false;
    }
    env.preamble = nfs_export_encoder_preamble(exp->enc[enc], &env.n_preamble);
    env.netflow9 = nfs_export_encoder_netflow9(exp->enc[enc]);
    c = nfs_collector_open(o, &env, err);
    if (c == NULL)
        return false;
    exp->coll_enc[exp->n_collectors] = enc;
    exp->collectors[exp->n_collectors++] = c;
    return true;
}

void
nfs_exporter_left_out(const struct nfs_exporter *exp, size_t i,
                      void (*fn)(void *ctx, const char *name, const char *why), void *ctx)
{
    if (i < exp->n_collectors)
        nfs_export_encoder_left_out(exp->enc[exp->coll_enc[i]], fn, ctx);
}

bool
nfs_exporter_add(struct nfs_exporter *exp, const char *target, struct nfs_error *err)
{
    struct nfs_collector_options o;

    nfs_collector_options_default(&o, target);
    o.require_connect = true;
    return nfs_exporter_add_collector(exp, &o, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Producers */

struct nfs_export_queue *
nfs_exporter_queue(struct nfs_exporter *exp, bool blocking, struct nfs_error *err)
{
    struct nfs_export_queue *q = NULL;
    size_t n;

    if (!nfs_exporter_start(exp, err))
        return NULL;
    pthread_mutex_lock(&exp->lock);
    n = atomic_load(&exp->n_queues);
    if (n < MAX_QUEUES &&
        (q = nfs_export_queue_create(exp->opt.queue_records, exp->slot_size, blocking,
                                     &exp->wake)) != NULL) {
        nfs_export_queue_set_context(q, exp);
        exp->queues[n] = q;
        atomic_store(&exp->n_queues, n + 1);
    }
    pthread_mutex_unlock(&exp->lock);
    if (q == NULL)
        nfs_error_set(err, n < MAX_QUEUES ? "out of memory" : "at most %d export queues",
                      MAX_QUEUES);
    return q;
}

bool
nfs_export_queue_push(struct nfs_export_queue *q, unsigned ip_version, const void *const *values)
{
    const struct nfs_exporter *exp = nfs_export_queue_context(q);
    const struct nfs_record *rec = values[0];
    uint64_t packets = rec ? rec->bidirectional.packets : 0;
    uint64_t octets = rec ? rec->bidirectional.ip_octets : 0;
    struct slot_hdr *h;
    uint8_t *slot;

    if (nfs_ipfix_template_id(ip_version) == 0)
        return false;
    slot = nfs_export_queue_reserve(q);
    if (slot == NULL) {
        nfs_export_queue_drop(q, packets, octets);
        return false;
    }
    h = (struct slot_hdr *)slot;
    h->ip_version = ip_version;
    h->present = 0;
    h->packets = packets;
    h->octets = octets;
    for (size_t g = 0; g < exp->n_groups; g++) {
        if (values[g] == NULL)
            continue;
        h->present |= 1u << g;
        memcpy(slot + exp->group_off[g], values[g], exp->group_size[g]);
    }
    nfs_export_queue_commit(q);
    return true;
}

void
nfs_export_queue_emit(void *ctx, const struct nfs_record *rec, const void *const *groups)
{
    nfs_export_queue_push(ctx, rec->ip_version, groups);
}

bool
nfs_exporter_export_values(struct nfs_exporter *exp, unsigned ip_version,
                           const void *const *values, struct nfs_error *err)
{
    if (nfs_ipfix_template_id(ip_version) == 0) {
        nfs_error_set(err, "cannot export a record of IP version %u", ip_version);
        return false;
    }
    if (exp->own == NULL && (exp->own = nfs_exporter_queue(exp, true, err)) == NULL)
        return false;
    nfs_export_queue_push(exp->own, ip_version, values);
    return true;
}

bool
nfs_exporter_export(struct nfs_exporter *exp, const struct nfs_record *rec, struct nfs_error *err)
{
    exp->values[0] = rec; /* other groups' values are not in the record: sent as zeros */
    return nfs_exporter_export_values(exp, rec->ip_version, exp->values, err);
}

/* ------------------------------------------------------------------------------------------ */
/* The export thread */

/* Encodes one slot and hands the record to every collector. */
static void
export_slot(struct nfs_exporter *exp, const uint8_t *slot)
{
    const struct slot_hdr *h = (const struct slot_hdr *)slot;
    struct nfs_error err;
    bool ok = true;

    for (size_t g = 0; g < exp->n_groups; g++)
        exp->enc_values[g] = (h->present & (1u << g)) ? slot + exp->group_off[g] : NULL;
    for (size_t e = 0; e < exp->n_enc; e++) {
        if (!nfs_export_encoder_flow(exp->enc[e], h->ip_version, exp->enc_values, &err))
            ok = false;
    }
    atomic_fetch_add(ok ? &exp->encoded : &exp->encode_errors, 1);
}

/* Takes up to `budget` records from each queue; returns how many it took. */
static size_t
drain_queues(struct nfs_exporter *exp, size_t budget)
{
    size_t n = atomic_load(&exp->n_queues), done = 0;

    exp->items_ms = nfs_mono_ms(); /* per item it was 2 % of metering (vDSO clock_gettime) */
    for (size_t i = 0; i < n; i++) {
        struct nfs_export_queue *q = exp->queues[i];
        const uint8_t *slot;

        for (size_t k = 0; k < budget && (slot = nfs_export_queue_peek(q)) != NULL; k++) {
            export_slot(exp, slot);
            nfs_export_queue_release(q);
            done++;
        }
    }
    return done;
}

static bool
queues_empty(struct nfs_exporter *exp)
{
    size_t n = atomic_load(&exp->n_queues);

    for (size_t i = 0; i < n; i++)
        if (!nfs_export_queue_empty(exp->queues[i]))
            return false;
    return true;
}

static void
publish(struct nfs_exporter *exp, uint64_t now_ms, bool force)
{
    if (!force && now_ms < exp->next_publish_ms)
        return;
    exp->next_publish_ms = now_ms + PUBLISH_MS;
    for (size_t i = 0; i < exp->n_collectors; i++)
        nfs_collector_publish(exp->collectors[i]);
}

/* nfs_exporter_flush: everything queued so far, out of the framers. */
static void
serve_flush(struct nfs_exporter *exp, uint64_t now_ms)
{
    uint64_t req = atomic_load(&exp->flush_req);

    if (req == exp->flush_done)
        return;
    while (drain_queues(exp, SIZE_MAX) != 0)
        ;
    for (size_t i = 0; i < exp->n_collectors; i++)
        nfs_collector_flush(exp->collectors[i], now_ms);
    publish(exp, now_ms, true);
    pthread_mutex_lock(&exp->lock);
    exp->flush_done = req;
    pthread_cond_broadcast(&exp->cond);
    pthread_mutex_unlock(&exp->lock);
}

/* Waits for I/O, the doorbell or the next timer (at most timeout_ms), then does the I/O. A nap
 * (timeout_ms <= NFS_EXPORT_IDLE_MS) lets producers go on without ringing. */
static void
wait_io(struct nfs_exporter *exp, uint64_t timeout_ms, uint64_t now_ms)
{
    struct pollfd pfd[MAX_COLLECTORS + 1];
    int who[MAX_COLLECTORS + 1];
    nfds_t n = 1;

    pfd[0] = (struct pollfd){.fd = exp->wake.fd, .events = POLLIN};
    for (size_t i = 0; i < exp->n_collectors; i++) {
        if (nfs_collector_pollfd(exp->collectors[i], &pfd[n]))
            who[n++] = (int)i;
    }
    if (timeout_ms > 0) {
        nfs_export_wake_sleep(&exp->wake,
                              timeout_ms <= NFS_EXPORT_IDLE_MS ? NFS_WAKE_NAP : NFS_WAKE_DEEP);
        if (!queues_empty(exp) || atomic_load(&exp->flush_req) != exp->flush_done ||
            (atomic_load(&exp->stop) && !exp->draining))
            timeout_ms = 0;
    }
    if (poll(pfd, n, (int)timeout_ms) > 0) {
        now_ms = nfs_mono_ms();
        for (nfds_t k = 1; k < n; k++)
            if (pfd[k].revents)
                nfs_collector_io(exp->collectors[who[k]], pfd[k].revents, now_ms);
    }
    nfs_export_wake_awake(&exp->wake);
}

static uint64_t
timers(struct nfs_exporter *exp, uint64_t now_ms)
{
    uint64_t next = now_ms + 1000;

    for (size_t i = 0; i < exp->n_collectors; i++) {
        uint64_t t = nfs_collector_timer(exp->collectors[i], now_ms, exp->opt.flush_ms);

        if (t < next)
            next = t;
    }
    if (now_ms >= exp->next_stats_ms) {
        send_stats(exp);
        exp->next_stats_ms = now_ms + (uint64_t)exp->opt.stats_interval_s * 1000;
    }
    return next < exp->next_stats_ms ? next : exp->next_stats_ms;
}

/* Close: the last records and statistics, then let the collectors take everything. */
static void
drain_collectors(struct nfs_exporter *exp)
{
    uint64_t now = nfs_mono_ms(), deadline = now + exp->opt.drain_timeout_ms;

    exp->draining = true;
    while (drain_queues(exp, SIZE_MAX) != 0)
        ;
    for (size_t i = 0; i < exp->n_collectors; i++)
        nfs_collector_flush(exp->collectors[i], now);
    send_stats(exp); /* after the last push: its counters are final but for undelivered */
    while (true) {
        bool all = true;
        uint64_t next;

        now = nfs_mono_ms();
        for (size_t i = 0; i < exp->n_collectors; i++)
            if (!nfs_collector_drained(exp->collectors[i], now))
                all = false;
        publish(exp, now, false);
        if (all || now >= deadline)
            break;
        next = timers(exp, now);
        wait_io(exp, next > now ? (next - now < 100 ? next - now : 100) : 0, now);
    }
    publish(exp, nfs_mono_ms(), true);
}

/* How long the loop may sleep: not at all while busy, naps for QUIET_MS after the last record,
 * then until the next timer. */
static uint64_t
sleep_ms(uint64_t now, uint64_t next, uint64_t last_busy)
{
    uint64_t t = next > now ? next - now : 0;

    if (now - last_busy < QUIET_MS && t > NFS_EXPORT_IDLE_MS)
        t = NFS_EXPORT_IDLE_MS;
    return t;
}

static void *
run(void *arg)
{
    struct nfs_exporter *exp = arg;
    uint64_t last_busy = nfs_mono_ms();

    exp->next_stats_ms = nfs_mono_ms() + (uint64_t)exp->opt.stats_interval_s * 1000;
    while (true) {
        uint64_t now, next;
        size_t done = drain_queues(exp, BATCH);

        now = nfs_mono_ms();
        if (done != 0)
            last_busy = now;
        serve_flush(exp, now);
        next = timers(exp, now);
        publish(exp, now, false);
        if (done == 0 && atomic_load(&exp->stop) && queues_empty(exp))
            break;
        wait_io(exp, done != 0 ? 0 : sleep_ms(now, next, last_busy), now);
    }
    drain_collectors(exp);
    return NULL;
}

bool
nfs_exporter_start(struct nfs_exporter *exp, struct nfs_error *err)
{
    bool ok = true;
    int rc;

    pthread_mutex_lock(&exp->lock);
    if (!exp->started) {
        rc = pthread_create(&exp->thread, NULL, run, exp);
        if (rc != 0) {
            nfs_error_set(err, "cannot start the export thread: %s", strerror(rc));
            ok = false;
        } else {
            exp->started = true;
        }
    }
    pthread_mutex_unlock(&exp->lock);
    return ok;
}

bool
nfs_exporter_flush(struct nfs_exporter *exp, struct nfs_error *err)
{
    uint64_t ticket;

    if (!nfs_exporter_start(exp, err))
        return false;
    pthread_mutex_lock(&exp->lock);
    ticket = atomic_fetch_add(&exp->flush_req, 1) + 1;
    nfs_export_wake_ring(&exp->wake, true);
    while (exp->flush_done < ticket)
        pthread_cond_wait(&exp->cond, &exp->lock);
    pthread_mutex_unlock(&exp->lock);
    return true;
}

void
nfs_exporter_set_metering(struct nfs_exporter *exp, const struct nfs_exporter_metering *m)
{
    pthread_mutex_lock(&exp->lock);
    exp->metering = *m;
    pthread_mutex_unlock(&exp->lock);
}

/* ------------------------------------------------------------------------------------------ */
/* Counters */

size_t
nfs_exporter_target_count(const struct nfs_exporter *exp)
{
    return exp->n_collectors;
}

void
nfs_exporter_get_totals(const struct nfs_exporter *exp, struct nfs_exporter_totals *out)
{
    size_t n = atomic_load(&((struct nfs_exporter *)(uintptr_t)exp)->n_queues);

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        struct nfs_export_queue_counters c;

        nfs_export_queue_counters(exp->queues[i], &c);
        out->records += c.pushed;
        out->queue_full += c.dropped;
        out->queue_full_packets += c.dropped_packets;
        out->queue_full_octets += c.dropped_octets;
        out->queue_waits += c.waits;
    }
    out->encoded = atomic_load(&((struct nfs_exporter *)(uintptr_t)exp)->encoded);
    out->encode_errors = atomic_load(&((struct nfs_exporter *)(uintptr_t)exp)->encode_errors);
}

bool
nfs_exporter_get_stats(const struct nfs_exporter *exp, size_t i, struct nfs_exporter_stats *out)
{
    struct nfs_exporter_totals t;

    if (i >= exp->n_collectors)
        return false;
    nfs_collector_get_stats(exp->collectors[i], out);
    nfs_exporter_get_totals(exp, &t);
    out->records = t.records;
    out->errors = out->spool_full + out->send_errors + out->undelivered;
    return true;
}

size_t
nfs_exporter_status(const struct nfs_exporter *exp, char *buf, size_t size)
{
    struct nfs_exporter_totals t;
    size_t len;

    nfs_exporter_get_totals(exp, &t);
    len = (size_t)snprintf(buf, size, "export: %" PRIu64 " records, %" PRIu64 " queue_full",
                           t.records, t.queue_full);
    for (size_t i = 0; i < exp->n_collectors && len < size; i++) {
        struct nfs_exporter_stats s;

        nfs_exporter_get_stats(exp, i, &s);
        if (strcmp(s.transport, "tcp") == 0)
            len += (size_t)snprintf(buf + len, size - len,
                                    "; %s: %s, spool %" PRIu64 ", %" PRIu64 " spool_full",
                                    s.target, s.state, s.spool_records, s.spool_full);
        else
            len += (size_t)snprintf(buf + len, size - len, "; %s: %" PRIu64 " sent", s.target,
                                    s.sent);
    }
    return len < size ? len : size > 0 ? size - 1 : 0;
}

void
nfs_exporter_print_stats(const struct nfs_exporter *exp, FILE *out)
{
    struct nfs_exporter_totals t;

    nfs_exporter_get_totals(exp, &t);
    fprintf(out,
            "exporter.records %" PRIu64 "\nexporter.queue_full %" PRIu64
            "\nexporter.queue_waits %" PRIu64 "\nexporter.encoded %" PRIu64
            "\nexporter.encode_errors %" PRIu64 "\n",
            t.records, t.queue_full, t.queue_waits, t.encoded, t.encode_errors);
    for (size_t i = 0; i < exp->n_collectors; i++) {
        struct nfs_exporter_stats s;
        const struct {
            const char *name;
            uint64_t v;
        } *f, fields[] = {
            {"sent", 0},        {"delivered", 0}, {"spool_full", 0}, {"send_errors", 0},
            {"replayed", 0},    {"undelivered", 0}, {"messages", 0}, {"bytes", 0},
            {"templates", 0},   {"connects", 0},  {"disconnects", 0}, {"files", 0},
            {"spool_records", 0}, {"spool_bytes", 0}, {"spool_disk_bytes", 0},
            {"taken", 0},       {"waiting", 0},
        };
        uint64_t v[NFS_NITEMS(fields)];

        nfs_exporter_get_stats(exp, i, &s);
        v[0] = s.sent, v[1] = s.delivered, v[2] = s.spool_full, v[3] = s.send_errors;
        v[4] = s.replayed, v[5] = s.undelivered, v[6] = s.messages, v[7] = s.bytes;
        v[8] = s.templates, v[9] = s.connects, v[10] = s.disconnects, v[11] = s.files;
        v[12] = s.spool_records, v[13] = s.spool_bytes, v[14] = s.spool_disk_bytes;
        v[15] = s.taken, v[16] = s.waiting;
        fprintf(out, "exporter.collector[%zu].target %s\nexporter.collector[%zu].state %s\n", i,
                s.target, i, s.state);
        for (size_t k = 0; k < NFS_NITEMS(fields); k++) {
            f = &fields[k];
            fprintf(out, "exporter.collector[%zu].%s %" PRIu64 "\n", i, f->name, v[k]);
        }
    }
    fflush(out);
}

const struct nfs_ipfix_model *
nfs_exporter_model(const struct nfs_exporter *exp)
{
    return exp->model;
}

/* ------------------------------------------------------------------------------------------ */
/* Close */

bool
nfs_exporter_stop(struct nfs_exporter *exp, struct nfs_error *err)
{
    struct nfs_exporter_totals t;
    bool ok = true;

    if (exp == NULL)
        return true;
    if (exp->stopped)
        return exp->stop_ok;
    exp->stopped = true;
    if (exp->model != NULL && exp->wake.fd >= 0 &&
        nfs_exporter_start(exp, err)) {
        atomic_store(&exp->stop, true);
        nfs_export_wake_ring(&exp->wake, true);
        pthread_join(exp->thread, NULL);
    }
    nfs_exporter_get_totals(exp, &t);
    for (size_t i = 0; i < exp->n_collectors; i++) {
        struct nfs_error e;

        if (!nfs_collector_close(exp->collectors[i], &e) && ok) {
            nfs_error_set(err, "%s", e.msg);
            ok = false;
        }
    }
    if (ok && t.queue_full + t.encode_errors > 0) {
        nfs_error_set(err,
                      "%" PRIu64 " records not exported (%" PRIu64 " queue_full, %" PRIu64
                      " encoding errors)",
                      t.queue_full + t.encode_errors, t.queue_full, t.encode_errors);
        ok = false;
    }
    exp->stop_ok = ok;
    return ok;
}

bool
nfs_exporter_close(struct nfs_exporter *exp, struct nfs_error *err)
{
    bool ok;
    size_t nq;

    if (exp == NULL)
        return true;
    ok = nfs_exporter_stop(exp, err);
    for (size_t i = 0; i < exp->n_collectors; i++)
        nfs_collector_destroy(exp->collectors[i]);
    nq = atomic_load(&exp->n_queues);
    for (size_t i = 0; i < nq; i++)
        nfs_export_queue_destroy(exp->queues[i]);
    for (size_t e = 0; e < exp->n_enc; e++)
        nfs_export_encoder_destroy(exp->enc[e]);
    /* Sessions hold the model's elements: the model goes last. */
    nfs_ipfix_model_destroy(exp->model);
    if (exp->wake.fd >= 0)
        close(exp->wake.fd);
    pthread_mutex_destroy(&exp->lock);
    pthread_cond_destroy(&exp->cond);
    free(exp->group_off);
    free(exp->group_size);
    free(exp->values);
    free(exp->enc_values);
    free(exp->groups);
    free(exp);
    return ok;
}
