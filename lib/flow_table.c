/*
 * flow_table.c: see flow_table.h.
 *
 * Memory: the pool and the slot array are mapped at creation, so pages are only backed once
 * flows use them (4 KiB pages: see reserve), BACK_STEP bytes at a time (see back); a flow costs
 * sizeof(struct nfs_flow) plus two 8-byte slots.
 * Deletion shifts later probes back (no tombstones), so a long run never degrades lookups.
 * Timeouts compare NFStream's truncated milliseconds, with its `>=` (FEATURES.md 2).
 */
#include "flow_table.h"

#include <sanitizer/asan_interface.h> /* no-op macros unless built with AddressSanitizer */
#include <stdlib.h>
#include <sys/mman.h>

#define NIL         UINT32_MAX
#define MIN_SLOTS   4096u /* the slot array starts here and doubles at half load */
#define WHEEL_SLOTS 1024u /* buckets of an expiry wheel */
#define WHEEL_MASK  (WHEEL_SLOTS - 1)
#define IN_RUN      WHEEL_SLOTS /* nfs_flow.slot of a flow in its wheel's sorted run */
#define QUIET_NONE  UINT64_MAX
#define BACK_STEP   (256u << 10) /* pool bytes backed at a time: 64 pages, one call */

/* The expiry wheel a flow is in (nfs_flow.list): idle timeout, or TCP linger. */
enum list_id { LIST_NONE, LIST_OPEN, LIST_CLOSING, N_WHEELS };

struct list {
    uint32_t head, tail;
};

/*
 * The idle (LIST_OPEN) and TCP linger (LIST_CLOSING) expiry: a packet only stamps its flow's
 * last-seen time; it does not move the flow. Moving it to the tail of a list ordered by last
 * packet, as before, wrote into its two list neighbours: two random flows, two cache misses
 * per packet. Instead each flow sits in the bucket of the time it was placed (a lower bound of
 * its last packet), 2^shift ms per bucket, in a ring of WHEEL_SLOTS buckets that covers twice
 * the timeout. Buckets whose flows may be due are sorted by their real last packet into the
 * run, oldest first; a flow touched since it was placed is seen then and placed again by its
 * real time (once per timeout, not once per packet). The run's head is the least recently
 * seen flow, so the timeouts stay exact to the millisecond and eviction takes the true LRU.
 * Buckets are absolute (ms >> shift); cursor is the first one not sorted into the run. Every
 * flow of the slots is in [cursor, cursor + WHEEL_SLOTS): catch_up keeps it so as time goes.
 */
struct wheel {
    uint64_t timeout_ms;
    uint64_t cursor;
    unsigned shift;
    uint32_t in_slots; /* flows in the buckets, not counting the run */
    struct list run;   /* sorted by last packet: flows of the buckets before cursor */
    uint32_t heads[WHEEL_SLOTS];
    uint64_t used[WHEEL_SLOTS / 64]; /* bit per non-empty bucket */
};

struct slot {
    uint32_t hash;
    uint32_t index1; /* pool index + 1; 0 = free slot */
};

struct sort_item {
    uint64_t last_us; /* microseconds: eviction takes the least recent flow to the packet */
    uint32_t index;
};

struct nfs_flow_table {
    struct nfs_flow_options opt;
    nfs_flow_end_fn on_end;
    void *ctx;
    struct nfs_counters *counters;
    uint8_t *pool; /* page-aligned, so a flow spans stride / 64 cache lines, no more */
    size_t pool_bytes;
    size_t stride;      /* bytes of one pool entry: the flow and its plugin state */
    uint32_t pool_used; /* pool entries ever handed out */
    size_t pool_backed; /* pool bytes backed by back_pool */
    bool back_failed;   /* back() is not available: pages are faulted as they are touched */
    uint32_t free_head; /* recycled entries, chained through lru_next */
    uint32_t live;      /* flows in the table */
    uint32_t filled;    /* of those, flows with packets (not an empty continuation) */
    struct slot *slots;
    uint32_t mask;
    struct list age;               /* every non-empty flow, by first packet */
    struct wheel wheels[N_WHEELS]; /* [LIST_OPEN], [LIST_CLOSING] */
    struct sort_item *sorting;     /* max_flows entries, for sorting a bucket */
    uint64_t quiet_ms;             /* expiry found nothing due at this ms; QUIET_NONE: unknown */
};

static inline struct nfs_flow *
at(const struct nfs_flow_table *t, uint32_t index)
{
    return (struct nfs_flow *)(t->pool + (size_t)index * t->stride);
}

/*
 * The pool is not malloc'd, so AddressSanitizer knows nothing of its entries by itself: a free
 * entry is poisoned, and a flow used after it ended (a plugin keeping a pointer, a list left
 * pointing at it) is reported as a use-after-poison. Without the sanitizer these do nothing.
 */
static inline void
entry_poison(const struct nfs_flow_table *t, uint32_t from, uint32_t n)
{
    ASAN_POISON_MEMORY_REGION(t->pool + (size_t)from * t->stride, (size_t)n * t->stride);
}

static inline void
entry_unpoison(const struct nfs_flow_table *t, uint32_t index)
{
    ASAN_UNPOISON_MEMORY_REGION(at(t, index), t->stride);
}

static inline uint64_t
ms(uint64_t us)
{
    return us / 1000;
}

/* ---- the age list (age_*) and the wheels' runs (lru_*) ---- */

static inline uint32_t *
link_prev(struct nfs_flow *f, bool age)
{
    return age ? &f->age_prev : &f->lru_prev;
}

static inline uint32_t *
link_next(struct nfs_flow *f, bool age)
{
    return age ? &f->age_next : &f->lru_next;
}

static void
list_append(struct nfs_flow_table *t, struct list *list, bool age, struct nfs_flow *f)
{
    *link_prev(f, age) = list->tail;
    *link_next(f, age) = NIL;
    if (list->tail != NIL)
        *link_next(at(t, list->tail), age) = f->index;
    else
        list->head = f->index;
    list->tail = f->index;
}

static void
list_unlink(struct nfs_flow_table *t, struct list *list, bool age, struct nfs_flow *f)
{
    uint32_t prev = *link_prev(f, age), next = *link_next(f, age);

    if (prev != NIL)
        *link_next(at(t, prev), age) = next;
    else
        list->head = next;
    if (next != NIL)
        *link_prev(at(t, next), age) = prev;
    else
        list->tail = prev;
}

/* ---- the wheels ---- */

static void
wheel_init(struct wheel *w, uint64_t timeout_ms)
{
    memset(w, 0, sizeof(*w));
    w->timeout_ms = timeout_ms;
    while ((uint64_t)WHEEL_SLOTS << w->shift < 2 * timeout_ms)
        w->shift++;
    w->run = (struct list){NIL, NIL};
    for (unsigned i = 0; i < WHEEL_SLOTS; i++)
        w->heads[i] = NIL;
}

static inline uint64_t
bucket_of(const struct wheel *w, uint64_t last_ms)
{
    return last_ms >> w->shift;
}

static void
bucket_push(struct nfs_flow_table *t, struct wheel *w, unsigned s, struct nfs_flow *f)
{
    f->lru_prev = NIL;
    f->lru_next = w->heads[s];
    if (w->heads[s] != NIL)
        at(t, w->heads[s])->lru_prev = f->index;
    w->heads[s] = f->index;
    w->used[s / 64] |= 1ull << (s % 64);
    f->slot = (uint16_t)s;
    w->in_slots++;
}

static void
wheel_unlink(struct nfs_flow_table *t, struct wheel *w, struct nfs_flow *f)
{
    unsigned s = f->slot;

    if (s == IN_RUN) {
        list_unlink(t, &w->run, false, f);
        return;
    }
    if (f->lru_prev != NIL)
        at(t, f->lru_prev)->lru_next = f->lru_next;
    else if ((w->heads[s] = f->lru_next) == NIL)
        w->used[s / 64] &= ~(1ull << (s % 64));
    if (f->lru_next != NIL)
        at(t, f->lru_next)->lru_prev = f->lru_prev;
    w->in_slots--;
}

/* Puts f in the bucket of its last packet, or at the run's tail if that bucket is sorted. */
static void
wheel_place(struct nfs_flow_table *t, struct wheel *w, struct nfs_flow *f, uint64_t last_ms)
{
    uint64_t b = bucket_of(w, last_ms);

    if (w->in_slots == 0 && w->run.head == NIL)
        w->cursor = b; /* an empty wheel starts where its first flow is */
    if (b < w->cursor) {
        f->slot = IN_RUN;
        list_append(t, &w->run, false, f);
    } else {
        bucket_push(t, w, (unsigned)(b & WHEEL_MASK), f);
    }
}

/* The first non-empty bucket at or after the cursor, absolute; false when none. */
static bool
next_bucket(const struct wheel *w, uint64_t *b)
{
    unsigned from = (unsigned)(w->cursor & WHEEL_MASK);

    if (w->in_slots == 0)
        return false;
    for (unsigned k = 0; k <= WHEEL_SLOTS / 64; k++) {
        unsigned word = (from / 64 + k) % (WHEEL_SLOTS / 64);
        uint64_t bits = w->used[word];

        if (k == 0)
            bits &= ~0ull << (from % 64);
        else if (k == WHEEL_SLOTS / 64)
            bits &= (from % 64) ? ~(~0ull << (from % 64)) : 0;
        if (bits != 0) {
            unsigned s = word * 64 + (unsigned)__builtin_ctzll(bits);

            *b = w->cursor + ((s - w->cursor) & WHEEL_MASK);
            return true;
        }
    }
    return false;
}

static int
by_last(const void *a, const void *b)
{
    const struct sort_item *x = a, *y = b;

    if (x->last_us != y->last_us)
        return x->last_us < y->last_us ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorts the cursor's bucket into the run; flows seen since they were placed move on. */
static void
sort_bucket(struct nfs_flow_table *t, struct wheel *w)
{
    unsigned s = (unsigned)(w->cursor & WHEEL_MASK);
    uint32_t i = w->heads[s];
    size_t n = 0;

    w->heads[s] = NIL;
    w->used[s / 64] &= ~(1ull << (s % 64));
    w->cursor++;
    while (i != NIL) {
        struct nfs_flow *f = at(t, i);
        uint64_t last_us = nfs_flow_last_us(f), b = bucket_of(w, ms(last_us));

        i = f->lru_next;
        if (i != NIL)
            __builtin_prefetch(at(t, i));
        w->in_slots--;
        if (b >= w->cursor)
            bucket_push(t, w, (unsigned)(b & WHEEL_MASK), f);
        else
            t->sorting[n++] = (struct sort_item){last_us, f->index};
    }
    qsort(t->sorting, n, sizeof(*t->sorting), by_last);
    for (size_t k = 0; k < n; k++) {
        struct nfs_flow *f = at(t, t->sorting[k].index);

        f->slot = IN_RUN;
        list_append(t, &w->run, false, f);
    }
}

/* Sorts every bucket before `limit` into the run (empty ones are skipped). */
static void
advance_to(struct nfs_flow_table *t, struct wheel *w, uint64_t limit)
{
    uint64_t b;

    while (w->cursor < limit) {
        if (!next_bucket(w, &b) || b >= limit) {
            w->cursor = limit;
            return;
        }
        w->cursor = b;
        sort_bucket(t, w);
    }
}

/* Before a packet at now_ms touches a flow: its bucket must lie within the ring. */
static inline void
catch_up(struct nfs_flow_table *t, struct wheel *w, uint64_t now_ms)
{
    uint64_t b = bucket_of(w, now_ms);

    if (b >= w->cursor + WHEEL_SLOTS)
        advance_to(t, w, b - WHEEL_SLOTS + 1);
}

/* The run's head: the least recently seen flow of the sorted buckets, or NULL. */
static inline struct nfs_flow *
wheel_oldest(struct nfs_flow_table *t, const struct wheel *w)
{
    return w->run.head != NIL ? at(t, w->run.head) : NULL;
}

/*
 * The least recently seen flow of the wheel, whatever the time (eviction), or NULL. With no
 * flow due, the next buckets are sorted into the run ahead of time: the run stays sorted, since
 * a flow placed behind the cursor joins the run's tail (its packet is the newest) and a flow of
 * the run that gets a packet leaves it (requeue).
 */
static struct nfs_flow *
wheel_lru(struct nfs_flow_table *t, struct wheel *w)
{
    uint64_t b;

    while (w->run.head == NIL && next_bucket(w, &b)) {
        w->cursor = b;
        sort_bucket(t, w);
    }
    return wheel_oldest(t, w);
}

/* ---- creation ---- */

/*
 * Zeroed memory, backed only when back() or a first touch asks, page-aligned (calloc's is 16 bytes
 * past a page).
 * In 4 KiB pages, though a large table misses the TLB on most lookups: no MADV_HUGEPAGE, as the
 * first touch of a 2 MiB page can stall the capture thread (direct compaction where THP defrag
 * is "madvise"; on a VM, backing a block the host took back after it was freed). Measured
 * (bench/README.md): huge pages save a tenth of the metering profile's user time, and cost
 * 0.03-0.15 s of system time per run at random on this VM, more than they save.
 */
static void *
reserve(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

/*
 * Backs [p, p + bytes) in one call: a fault per 4 KiB page, as touching them does, cost about a
 * tenth of the metering profile's CPU at 10^5 flows (exception entry, page walk and lock per
 * page; bench/README.md). Without MADV_POPULATE_WRITE (Linux < 5.14) it fails, and the pages
 * are faulted as they are touched.
 */
static bool
back(void *p, size_t bytes)
{
    return madvise(p, bytes, MADV_POPULATE_WRITE) == 0;
}

/* Backs the pool BACK_STEP by BACK_STEP, as the entry at index is handed out for the first time. */
static inline void
back_pool(struct nfs_flow_table *t, uint32_t index)
{
    size_t end = ((size_t)index + 1) * t->stride;

    while (end > t->pool_backed && !t->back_failed) {
        size_t step = t->pool_bytes - t->pool_backed;

        step = step < BACK_STEP ? step : BACK_STEP;
        if (back(t->pool + t->pool_backed, step))
            t->pool_backed += step;
        else
            t->back_failed = true;
    }
}

/* A zeroed slot array, backed at once: a rehash or a lookup touches all of its pages. */
static struct slot *
slots_alloc(uint64_t n)
{
    struct slot *slots = reserve(n * sizeof(*slots));

    if (slots != NULL)
        back(slots, n * sizeof(*slots));
    return slots;
}

static void
slots_free(struct slot *slots, uint32_t mask)
{
    if (slots != NULL)
        munmap(slots, ((size_t)mask + 1) * sizeof(*slots));
}

struct nfs_flow_table *
nfs_flow_table_create(const struct nfs_flow_options *opt, size_t state_size, nfs_flow_end_fn on_end,
                      void *ctx, struct nfs_counters *counters, struct nfs_error *err)
{
    struct nfs_flow_table *t = calloc(1, sizeof(*t));
    uint64_t nslots = MIN_SLOTS;

    if (t == NULL)
        goto nomem;
    while (nslots < 2ull * opt->max_flows && nslots < MIN_SLOTS)
        nslots <<= 1;
    t->opt = *opt;
    t->on_end = on_end;
    t->ctx = ctx;
    t->counters = counters;
    t->mask = (uint32_t)(nslots - 1);
    t->free_head = NIL;
    t->quiet_ms = QUIET_NONE;
    t->age = (struct list){NIL, NIL};
    wheel_init(&t->wheels[LIST_OPEN], opt->idle_timeout_ms);
    wheel_init(&t->wheels[LIST_CLOSING], opt->tcp_linger_ms);
    t->stride = (sizeof(struct nfs_flow) + state_size + 7) & ~(size_t)7;
    t->pool_bytes = (size_t)(opt->max_flows ? opt->max_flows : 1) * t->stride;
    t->pool = reserve(t->pool_bytes);
    t->slots = slots_alloc(nslots);
    /* Pages are backed as buckets are sorted: a bucket's flows at most, usually a few. */
    t->sorting = malloc((opt->max_flows ? opt->max_flows : 1) * sizeof(*t->sorting));
    if (t->pool && t->slots && t->sorting) {
        return t;
    }
    nfs_flow_table_destroy(t);
nomem:
    nfs_error_set(err, "cannot reserve memory for %u flows", opt->max_flows);
    return NULL;
}

void
nfs_flow_table_destroy(struct nfs_flow_table *t)
{
    if (t == NULL)
        return;
    if (t->pool != NULL) {
        /* The sanitizer keeps a poison after munmap: the next mapping there would inherit it. */
        ASAN_UNPOISON_MEMORY_REGION(t->pool, t->pool_bytes);
        munmap(t->pool, t->pool_bytes);
    }
    slots_free(t->slots, t->mask);
    free(t->sorting);
    free(t);
}

uint32_t
nfs_flow_table_count(const struct nfs_flow_table *t)
{
    return t->filled;
}

/* ---- the hash index ---- */

static struct nfs_flow *
find(struct nfs_flow_table *t, const struct nfs_flow_key *key, uint32_t hash)
{
    for (uint32_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        struct slot *s = &t->slots[i];

        if (s->index1 == 0)
            return NULL;
        if (s->hash == hash && nfs_flow_key_eq(&at(t, s->index1 - 1)->key, key))
            return at(t, s->index1 - 1);
    }
}

static void
slot_put(struct slot *slots, uint32_t mask, struct slot s)
{
    uint32_t i = s.hash & mask;

    while (slots[i].index1 != 0)
        i = (i + 1) & mask;
    slots[i] = s;
}

/*
 * Doubles the slot array once the table is half full. Sizing for max_flows up front would
 * spread a small table over megabytes of slots and turn every lookup into a cache miss; a
 * rehash costs O(flows) once per doubling, amortised O(1) per flow.
 */
static void
grow(struct nfs_flow_table *t)
{
    uint32_t mask = t->mask * 2 + 1;
    struct slot *slots = slots_alloc((uint64_t)mask + 1);

    if (slots == NULL)
        return; /* keep probing the fuller table: slower, still correct */
    for (uint32_t i = 0; i <= t->mask; i++)
        if (t->slots[i].index1 != 0)
            slot_put(slots, mask, t->slots[i]);
    slots_free(t->slots, t->mask);
    t->slots = slots;
    t->mask = mask;
}

static void
index_insert(struct nfs_flow_table *t, const struct nfs_flow *f)
{
    if (t->live >= t->mask / 2 && (uint64_t)t->mask + 1 < 2ull * t->opt.max_flows)
        grow(t);
    slot_put(t->slots, t->mask, (struct slot){f->hash, f->index + 1});
}

/* Removes f's slot and shifts back the entries that probed past it (Knuth's algorithm R). */
static void
index_remove(struct nfs_flow_table *t, const struct nfs_flow *f)
{
    uint32_t i = f->hash & t->mask, j;

    while (t->slots[i].index1 != f->index + 1)
        i = (i + 1) & t->mask;
    for (j = (i + 1) & t->mask; t->slots[j].index1 != 0; j = (j + 1) & t->mask) {
        uint32_t home = t->slots[j].hash & t->mask;

        /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i] = (struct slot){0, 0};
}

/* ---- flow life cycle ---- */

static void
release(struct nfs_flow_table *t, struct nfs_flow *f)
{
    index_remove(t, f);
    if (f->list != LIST_NONE)
        wheel_unlink(t, &t->wheels[f->list], f);
    if (!nfs_flow_is_empty(f)) {
        list_unlink(t, &t->age, true, f);
        t->filled--;
    }
    f->lru_next = t->free_head;
    t->free_head = f->index;
    t->live--;
    entry_poison(t, f->index, 1);
}

static void
end_flow(struct nfs_flow_table *t, struct nfs_flow *f, uint8_t reason)
{
    static const enum nfs_counter counter[] = {
        [NFS_END_IDLE] = NFS_C_FLOWS_IDLE,         [NFS_END_ACTIVE] = NFS_C_FLOWS_ACTIVE,
        [NFS_END_OF_FLOW] = NFS_C_FLOWS_TCP_END,   [NFS_END_FORCED] = NFS_C_FLOWS_FLUSHED,
        [NFS_END_RESOURCES] = NFS_C_FLOWS_EVICTED, [NFS_END_PLUGIN] = NFS_C_FLOWS_PLUGIN,
    };

    if (nfs_flow_is_empty(f))
        return;
    t->counters->v[counter[reason]]++;
    t->on_end(t->ctx, f, reason);
}

/* Ends an active flow and keeps its entry, empty, for the continuation. */
static void
cut_active(struct nfs_flow_table *t, struct nfs_flow *f)
{
    end_flow(t, f, NFS_END_ACTIVE);
    list_unlink(t, &t->age, true, f);
    t->filled--;
    nfs_flow_restart(f, t->opt.keep_direction);
    memset(nfs_flow_state(f), 0, t->stride - sizeof(*f));
}

static void
evict_one(struct nfs_flow_table *t)
{
    struct nfs_flow *f = wheel_lru(t, &t->wheels[LIST_CLOSING]);

    if (f == NULL)
        f = wheel_lru(t, &t->wheels[LIST_OPEN]);
    end_flow(t, f, f->tcp_state & NFS_TCP_CLOSED ? NFS_END_OF_FLOW : NFS_END_RESOURCES);
    release(t, f);
}

static struct nfs_flow *
add(struct nfs_flow_table *t, const struct nfs_flow_key *key, uint32_t hash)
{
    struct nfs_flow *f;
    uint32_t index;

    if (t->opt.max_flows == 0)
        return NULL;
    if (t->live == t->opt.max_flows)
        evict_one(t);
    if (t->free_head != NIL) {
        index = t->free_head;
        entry_unpoison(t, index);
        t->free_head = at(t, index)->lru_next;
    } else {
        index = t->pool_used++;
        back_pool(t, index);
        entry_unpoison(t, index); /* poisoned by a reset, or never */
    }
    f = at(t, index);
    f->index = index;
    nfs_flow_init(f, key, hash);
    if (t->stride > sizeof(*f)) /* plugins' state; without plugins, no libc call per flow */
        memset(nfs_flow_state(f), 0, t->stride - sizeof(*f));
    index_insert(t, f);
    f->list = LIST_NONE; /* placed in a wheel once it has its packet */
    t->live++;
    return f;
}

/*
 * The cuts a packet's arrival makes (NFStream's flow_expiration_handler, then the TCP rule):
 * returns the flow the packet belongs to, which may be a new one.
 */
/* Releases an ended flow's entry and adds a new, empty flow of the same key. */
static struct nfs_flow *
renew(struct nfs_flow_table *t, struct nfs_flow *f)
{
    const struct nfs_flow_key key = f->key; /* add may hand out f's own entry */
    uint32_t hash = f->hash;

    release(t, f);
    return add(t, &key, hash);
}

static struct nfs_flow *
cut_on_arrival(struct nfs_flow_table *t, struct nfs_flow *f, const struct nfs_packet *pkt)
{
    uint64_t now = ms(pkt->ts_us);

    if (nfs_flow_is_empty(f))
        return f;
    if (now - ms(nfs_flow_last_us(f)) >= t->opt.idle_timeout_ms) {
        end_flow(t, f, NFS_END_IDLE);
    } else if (now - ms(nfs_flow_first_us(f)) >= t->opt.active_timeout_ms) {
        cut_active(t, f);
        return f;
    } else if ((f->tcp_state & NFS_TCP_CLOSED) &&
               (pkt->tcp_flags & (NFS_TCP_SYN | NFS_TCP_ACK)) == NFS_TCP_SYN) {
        end_flow(t, f, NFS_END_OF_FLOW); /* a new connection reuses the 5-tuple */
    } else {
        return f;
    }
    return renew(t, f);
}

/*
 * After f counted a packet at now_ms: a new flow joins its wheel, a TCP end changes wheel, a
 * flow of the sorted run leaves it (the run stays sorted by last packet). A flow in a bucket
 * stays where it is: the usual case, which costs nothing.
 */
static void
requeue(struct nfs_flow_table *t, struct nfs_flow *f, bool was_empty, uint64_t now_ms)
{
    enum list_id l = (f->tcp_state & NFS_TCP_CLOSED) ? LIST_CLOSING : LIST_OPEN;

    if (f->list != l || f->slot == IN_RUN) {
        if (f->list != LIST_NONE)
            wheel_unlink(t, &t->wheels[f->list], f);
        f->list = (uint8_t)l;
        wheel_place(t, &t->wheels[l], f, now_ms);
    }
    if (was_empty) { /* a flow starts: a new entry's, or an active-timeout continuation's */
        list_append(t, &t->age, true, f);
        t->filled++;
        t->counters->v[NFS_C_FLOWS_CREATED]++;
    }
}

struct nfs_flow *
nfs_flow_table_packet(struct nfs_flow_table *t, const struct nfs_packet *pkt,
                      struct nfs_observation *obs)
{
    struct nfs_flow_key key;
    unsigned side = nfs_flow_key_make(&key, pkt);

    return nfs_flow_table_packet_keyed(t, pkt, &key, side, nfs_flow_key_hash(&key), obs);
}

void
nfs_flow_table_prefetch_slot(const struct nfs_flow_table *t, uint32_t hash)
{
    __builtin_prefetch(&t->slots[hash & t->mask]);
}

void
nfs_flow_table_prefetch_flow(const struct nfs_flow_table *t, uint32_t hash)
{
    for (uint32_t i = hash & t->mask; t->slots[i].index1 != 0; i = (i + 1) & t->mask) {
        if (t->slots[i].hash == hash) {
            const struct nfs_flow *f = at(t, t->slots[i].index1 - 1);

            __builtin_prefetch(f);
            __builtin_prefetch((const uint8_t *)f + 64);
            __builtin_prefetch((const uint8_t *)f + 128);
            return;
        }
    }
}

struct nfs_flow *
nfs_flow_table_packet_keyed(struct nfs_flow_table *t, const struct nfs_packet *pkt,
                            const struct nfs_flow_key *key, unsigned side, uint32_t hash,
                            struct nfs_observation *obs)
{
    struct nfs_flow *f;
    bool was_empty;

    catch_up(t, &t->wheels[LIST_OPEN], ms(pkt->ts_us));
    catch_up(t, &t->wheels[LIST_CLOSING], ms(pkt->ts_us));
    f = find(t, key, hash);
    f = f ? cut_on_arrival(t, f, pkt) : add(t, key, hash);
    if (f == NULL)
        return NULL;
    was_empty = nfs_flow_is_empty(f);
    nfs_flow_update(f, pkt, side, &t->opt, obs);
    requeue(t, f, was_empty, ms(pkt->ts_us));
    return f;
}

void
nfs_flow_table_end(struct nfs_flow_table *t, struct nfs_flow *flow, uint8_t end_reason)
{
    end_flow(t, flow, end_reason);
    release(t, flow);
}

/* ---- expiry ---- */

/* Ends the flows of wheel l idle for its timeout at now (ms), oldest first. */
static unsigned
expire_wheel(struct nfs_flow_table *t, enum list_id l, uint64_t now, unsigned budget)
{
    struct wheel *w = &t->wheels[l];
    unsigned n = 0;
    struct nfs_flow *f;

    if (now < w->timeout_ms)
        return 0;
    /* Only the buckets up to now - timeout can hold due flows. */
    advance_to(t, w, bucket_of(w, now - w->timeout_ms) + 1);
    while (n < budget && (f = wheel_oldest(t, w)) != NULL &&
           now - ms(nfs_flow_last_us(f)) >= w->timeout_ms) {
        /* The expired flows are cold: start loading the next one and this one's slot. */
        if (f->lru_next != NIL)
            __builtin_prefetch(at(t, f->lru_next));
        __builtin_prefetch(&t->slots[f->hash & t->mask]);
        end_flow(t, f, l == LIST_CLOSING ? NFS_END_OF_FLOW : NFS_END_IDLE);
        release(t, f);
        n++;
    }
    return n;
}

static unsigned
expire_active(struct nfs_flow_table *t, uint64_t now, unsigned budget)
{
    unsigned n = 0;
    struct nfs_flow *f;

    while (n < budget && (f = t->age.head != NIL ? at(t, t->age.head) : NULL) != NULL &&
           now - ms(nfs_flow_first_us(f)) >= t->opt.active_timeout_ms) {
        cut_active(t, f);
        n++;
    }
    return n;
}

/*
 * Whether a flow can fall due in the same millisecond as the packet that touched it: only with
 * a timeout of 0. Otherwise a packet at now gives its flow a last (or, new, a first) packet at
 * now, due at now + timeout at the earliest, and cuts or evictions only take flows away.
 */
static bool
due_at_once(const struct nfs_flow_table *t)
{
    return t->opt.idle_timeout_ms == 0 || t->opt.tcp_linger_ms == 0 ||
           (t->opt.active_scan && t->opt.active_timeout_ms == 0);
}

/* The walk of the wheels and the age list for the flows due at now (ms). Not inlined: its
 * register saves would then be paid by every call, also those that return at once. */
static __attribute__((noinline)) unsigned
expire_due(struct nfs_flow_table *t, uint64_t now, unsigned budget)
{
    unsigned n = expire_wheel(t, LIST_CLOSING, now, budget);

    n += expire_wheel(t, LIST_OPEN, now, budget - n);
    if (t->opt.active_scan)
        n += expire_active(t, now, budget - n);
    t->quiet_ms = n < budget && !due_at_once(t) ? now : QUIET_NONE;
    return n;
}

/*
 * Called before every packet, so most calls find nothing due: packets come hundreds to the
 * millisecond. Once a call has ended every due flow within its budget at now, nothing else
 * can be due until the clock moves on (due_at_once), and the calls of that millisecond return
 * at once instead of walking both wheels and the age list (kept out of line, so this stays a
 * compare and a return).
 */
unsigned
nfs_flow_table_expire(struct nfs_flow_table *t, uint64_t now_us, unsigned budget)
{
    uint64_t now = ms(now_us);

    return now == t->quiet_ms ? 0 : expire_due(t, now, budget);
}

/* A new timeout changes the bucket width: every flow of the wheel is placed again. */
static void
wheel_rebuild(struct nfs_flow_table *t, struct wheel *w, uint64_t timeout_ms)
{
    size_t n = 0;

    for (uint32_t i = w->run.head; i != NIL; i = at(t, i)->lru_next)
        t->sorting[n++] = (struct sort_item){nfs_flow_last_us(at(t, i)), i};
    for (unsigned s = 0; s < WHEEL_SLOTS; s++)
        for (uint32_t i = w->heads[s]; i != NIL; i = at(t, i)->lru_next)
            t->sorting[n++] = (struct sort_item){nfs_flow_last_us(at(t, i)), i};
    qsort(t->sorting, n, sizeof(*t->sorting), by_last);
    wheel_init(w, timeout_ms);
    if (n > 0)
        w->cursor = bucket_of(w, ms(t->sorting[n - 1].last_us));
    for (size_t k = 0; k < n; k++) {
        struct nfs_flow *f = at(t, t->sorting[k].index);

        if (bucket_of(w, ms(t->sorting[k].last_us)) < w->cursor) {
            f->slot = IN_RUN;
            list_append(t, &w->run, false, f);
        } else {
            bucket_push(t, w, (unsigned)(w->cursor & WHEEL_MASK), f);
        }
    }
}

void
nfs_flow_table_set_timeouts(struct nfs_flow_table *t, uint64_t idle_timeout_ms,
                            uint64_t active_timeout_ms, uint64_t tcp_linger_ms)
{
    t->opt.idle_timeout_ms = idle_timeout_ms;
    t->opt.active_timeout_ms = active_timeout_ms;
    t->opt.tcp_linger_ms = tcp_linger_ms;
    t->quiet_ms = QUIET_NONE; /* shorter timeouts may make flows due now */
    wheel_rebuild(t, &t->wheels[LIST_OPEN], idle_timeout_ms);
    wheel_rebuild(t, &t->wheels[LIST_CLOSING], tcp_linger_ms);
}

/* Forgets every flow at once: the table is as new, its pool pages stay. */
static void
reset(struct nfs_flow_table *t)
{
    memset(t->slots, 0, ((size_t)t->mask + 1) * sizeof(*t->slots));
    t->age = (struct list){NIL, NIL};
    wheel_init(&t->wheels[LIST_OPEN], t->opt.idle_timeout_ms);
    wheel_init(&t->wheels[LIST_CLOSING], t->opt.tcp_linger_ms);
    entry_poison(t, 0, t->pool_used);
    t->free_head = NIL;
    t->pool_used = 0;
    t->live = 0;
    t->filled = 0;
}

/*
 * Every flow ends, oldest first. Releasing them one by one would unlink each from the index
 * and its lists (cache misses on cold memory, for nothing): the table is reset once instead.
 */
void
nfs_flow_table_flush(struct nfs_flow_table *t)
{
    for (uint32_t i = t->age.head; i != NIL;) {
        struct nfs_flow *f = at(t, i);

        i = f->age_next;
        if (i != NIL)
            __builtin_prefetch(at(t, i));
        end_flow(t, f, f->tcp_state & NFS_TCP_CLOSED ? NFS_END_OF_FLOW : NFS_END_FORCED);
    }
    reset(t);
}
