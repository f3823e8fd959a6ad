/*
 * export_queue.c: see export_queue.h.
 *
 * Classic single-producer single-consumer ring: head is written by the producer, tail by the
 * consumer, each keeps a cached copy of the other's index so a push or a pop touches the
 * shared cache line only when the cached view says full or empty. Indices grow without bound
 * and are masked on use.
 * Sleeping on both sides uses the store-then-check pattern: the side that is about to sleep
 * stores its flag, then checks the condition again; the other side changes the condition,
 * then reads the flag (both sequentially consistent), so one of them always sees the other.
 * The waits are also bounded by timeouts, a safety net that costs nothing when idle.
 */
#include "export_queue.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define CACHE_LINE  64
#define RESUME_FREE 4 /* a blocked producer goes on once 1/RESUME_FREE of the ring is free */

struct nfs_export_queue {
    /* producer's line */
    _Alignas(CACHE_LINE) atomic_size_t head;
    size_t cached_tail;
    uint64_t pushed, dropped, dropped_packets, dropped_octets, waits; /* single writer */
    /* consumer's line */
    _Alignas(CACHE_LINE) atomic_size_t tail;
    size_t cached_head;
    /* read-mostly */
    _Alignas(CACHE_LINE) uint8_t *slots;
    size_t mask, slot_size;
    atomic_bool blocking;
    atomic_int producer_waiting;
    pthread_mutex_t lock; /* only for a blocked producer */
    pthread_cond_t cond;
    struct nfs_export_wake *wake;
    void *ctx;
};

static size_t
round_pow2(size_t n)
{
    size_t p = 1;

    while (p < n)
        p <<= 1;
    return p;
}

struct nfs_export_queue *
nfs_export_queue_create(size_t slots, size_t slot_size, bool blocking,
                        struct nfs_export_wake *wake)
{
    struct nfs_export_queue *q;
    pthread_condattr_t ca;

    if (posix_memalign((void **)&q, CACHE_LINE, sizeof(*q)) != 0)
        return NULL;
    memset(q, 0, sizeof(*q));
    q->mask = round_pow2(slots < 2 ? 2 : slots) - 1;
    q->slot_size = (slot_size + 15) & ~(size_t)15;
    if (posix_memalign((void **)&q->slots, CACHE_LINE, (q->mask + 1) * q->slot_size) != 0) {
        free(q);
        return NULL;
    }
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    atomic_init(&q->blocking, blocking);
    atomic_init(&q->producer_waiting, 0);
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    q->wake = wake;
    return q;
}

void
nfs_export_queue_destroy(struct nfs_export_queue *q)
{
    if (q == NULL)
        return;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    free(q->slots);
    free(q);
}

void
nfs_export_queue_set_blocking(struct nfs_export_queue *q, bool blocking)
{
    atomic_store(&q->blocking, blocking);
}

static bool
full(struct nfs_export_queue *q, size_t head)
{
    if (head - q->cached_tail <= q->mask)
        return false;
    q->cached_tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    return head - q->cached_tail > q->mask;
}

/* Slots in use below which a blocked producer resumes: waking it for every freed slot would
 * cost two context switches per record while the consumer is the slower side. */
static size_t
resume_level(const struct nfs_export_queue *q)
{
    size_t size = q->mask + 1, free = size / RESUME_FREE;

    return size - (free > 0 ? free : 1);
}

/* Blocks until the consumer frees a share of the ring; 50 ms waits so a lost signal costs
 * little. */
static void
wait_for_slot(struct nfs_export_queue *q, size_t head)
{
    struct timespec ts;

    atomic_store_explicit((_Atomic uint64_t *)&q->waits, q->waits + 1, memory_order_relaxed);
    nfs_export_wake_ring(q->wake, true);
    pthread_mutex_lock(&q->lock);
    while (true) {
        atomic_store(&q->producer_waiting, 1);
        q->cached_tail = atomic_load(&q->tail);
        if (head - q->cached_tail <= resume_level(q))
            break;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&q->cond, &q->lock, &ts);
    }
    atomic_store(&q->producer_waiting, 0);
    pthread_mutex_unlock(&q->lock);
}

void *
nfs_export_queue_reserve(struct nfs_export_queue *q)
{
    size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);

    if (full(q, head)) {
        if (!atomic_load_explicit(&q->blocking, memory_order_relaxed))
            return NULL;
        wait_for_slot(q, head);
    }
    return q->slots + (head & q->mask) * q->slot_size;
}

void
nfs_export_queue_commit(struct nfs_export_queue *q)
{
    size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);

    atomic_store_explicit(&q->head, head + 1, memory_order_seq_cst);
    atomic_store_explicit((_Atomic uint64_t *)&q->pushed, q->pushed + 1, memory_order_relaxed);
    /* The consumer polls the queues every few ms by itself (NFS_EXPORT_IDLE_MS); the doorbell
     * is only for a queue filling up, so a steady flow of records costs no syscall. */
    switch (atomic_load(&q->wake->sleeping)) {
    case NFS_WAKE_DEEP:
        nfs_export_wake_ring(q->wake, false);
        break;
    case NFS_WAKE_NAP:
        if (head + 1 - q->cached_tail >= (q->mask + 1) / 8)
            nfs_export_wake_ring(q->wake, false);
        break;
    default:
        break;
    }
}

void
nfs_export_queue_drop(struct nfs_export_queue *q, uint64_t packets, uint64_t octets)
{
    atomic_store_explicit((_Atomic uint64_t *)&q->dropped, q->dropped + 1, memory_order_relaxed);
    atomic_store_explicit((_Atomic uint64_t *)&q->dropped_packets, q->dropped_packets + packets,
                          memory_order_relaxed);
    atomic_store_explicit((_Atomic uint64_t *)&q->dropped_octets, q->dropped_octets + octets,
                          memory_order_relaxed);
}

void *
nfs_export_queue_peek(struct nfs_export_queue *q)
{
    size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);

    if (tail == q->cached_head) {
        q->cached_head = atomic_load_explicit(&q->head, memory_order_acquire);
        if (tail == q->cached_head)
            return NULL;
    }
    return q->slots + (tail & q->mask) * q->slot_size;
}

void
nfs_export_queue_release(struct nfs_export_queue *q)
{
    size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);

    atomic_store_explicit(&q->tail, tail + 1, memory_order_seq_cst);
    if (atomic_load(&q->producer_waiting) &&
        atomic_load_explicit(&q->head, memory_order_acquire) - (tail + 1) <= resume_level(q)) {
        pthread_mutex_lock(&q->lock);
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
    }
}

bool
nfs_export_queue_empty(const struct nfs_export_queue *q)
{
    return atomic_load(&q->tail) == atomic_load(&q->head);
}

size_t
nfs_export_queue_slot_size(const struct nfs_export_queue *q)
{
    return q->slot_size;
}

void
nfs_export_queue_set_context(struct nfs_export_queue *q, void *ctx)
{
    q->ctx = ctx;
}

void *
nfs_export_queue_context(const struct nfs_export_queue *q)
{
    return q->ctx;
}

static uint64_t
read_u64(const uint64_t *p)
{
    return atomic_load_explicit((_Atomic uint64_t *)(uintptr_t)p, memory_order_relaxed);
}

void
nfs_export_queue_counters(const struct nfs_export_queue *q, struct nfs_export_queue_counters *out)
{
    out->pushed = read_u64(&q->pushed);
    out->dropped = read_u64(&q->dropped);
    out->dropped_packets = read_u64(&q->dropped_packets);
    out->dropped_octets = read_u64(&q->dropped_octets);
    out->waits = read_u64(&q->waits);
}

void
nfs_export_wake_sleep(struct nfs_export_wake *w, int how)
{
    atomic_store(&w->sleeping, how);
}

void
nfs_export_wake_awake(struct nfs_export_wake *w)
{
    uint64_t v;

    atomic_store(&w->sleeping, 0);
    while (read(w->fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
}

void
nfs_export_wake_ring(struct nfs_export_wake *w, bool force)
{
    uint64_t one = 1;

    if (!force && atomic_load(&w->sleeping) == 0)
        return;
    if (!force && atomic_exchange(&w->sleeping, 0) == 0)
        return;
    while (write(w->fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}
