/*
 * flow_table.c: see flow_table.h.
 *
 * Memory: the pool and the slot array are reserved at creation with calloc, so pages are only
 * backed once flows use them; a flow costs sizeof(struct nfs_flow) plus two 8-byte slots.
 * Deletion shifts later probes back (no tombstones), so a long run never degrades lookups.
 * Timeouts compare NFStream's truncated milliseconds, with its `>=` (FEATURES.md 2).
 */
#include "flow_table.h"

#include <stdlib.h>

#define NIL UINT32_MAX
#define MIN_SLOTS 4096u /* the slot array starts here and doubles at half load */

enum list_id { LIST_NONE, LIST_OPEN, LIST_CLOSING, LIST_AGE, LIST_COUNT };

struct list {
    uint32_t head, tail;
};

struct slot {
    uint32_t hash;
    uint32_t index1; /* pool index + 1; 0 = free slot */
};

struct nfs_flow_table {
    struct nfs_flow_options opt;
    nfs_flow_end_fn on_end;
    void *ctx;
    struct nfs_counters *counters;
    uint8_t *pool;
    size_t stride;      /* bytes of one pool entry: the flow and its plugin state */
    uint32_t pool_used; /* pool entries ever handed out */
    uint32_t free_head; /* recycled entries, chained through lru_next */
    uint32_t live;      /* flows in the table */
    uint32_t filled;    /* of those, flows with packets (not an empty continuation) */
    struct slot *slots;
    uint32_t mask;
    struct list lists[LIST_COUNT];
};

static inline struct nfs_flow *
at(const struct nfs_flow_table *t, uint32_t index)
{
    return (struct nfs_flow *)(t->pool + (size_t)index * t->stride);
}

static inline uint64_t
ms(uint64_t us)
{
    return us / 1000;
}

/* ---- intrusive lists: LIST_OPEN/LIST_CLOSING use lru_*, LIST_AGE uses age_* ---- */

static inline uint32_t *
link_prev(struct nfs_flow *f, enum list_id l)
{
    return l == LIST_AGE ? &f->age_prev : &f->lru_prev;
}

static inline uint32_t *
link_next(struct nfs_flow *f, enum list_id l)
{
    return l == LIST_AGE ? &f->age_next : &f->lru_next;
}

static void
list_append(struct nfs_flow_table *t, enum list_id l, struct nfs_flow *f)
{
    struct list *list = &t->lists[l];

    *link_prev(f, l) = list->tail;
    *link_next(f, l) = NIL;
    if (list->tail != NIL)
        *link_next(at(t, list->tail), l) = f->index;
    else
        list->head = f->index;
    list->tail = f->index;
}

static void
list_unlink(struct nfs_flow_table *t, enum list_id l, struct nfs_flow *f)
{
    struct list *list = &t->lists[l];
    uint32_t prev = *link_prev(f, l), next = *link_next(f, l);

    if (prev != NIL)
        *link_next(at(t, prev), l) = next;
    else
        list->head = next;
    if (next != NIL)
        *link_prev(at(t, next), l) = prev;
    else
        list->tail = prev;
}

static inline struct nfs_flow *
list_head(struct nfs_flow_table *t, enum list_id l)
{
    uint32_t h = t->lists[l].head;

    return h == NIL ? NULL : at(t, h);
}

/* ---- creation ---- */

struct nfs_flow_table *
nfs_flow_table_create(const struct nfs_flow_options *opt, size_t state_size,
                      nfs_flow_end_fn on_end, void *ctx, struct nfs_counters *counters,
                      struct nfs_error *err)
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
    for (int l = 0; l < LIST_COUNT; l++)
        t->lists[l] = (struct list){NIL, NIL};
    t->stride = (sizeof(struct nfs_flow) + state_size + 7) & ~(size_t)7;
    t->pool = calloc(opt->max_flows ? opt->max_flows : 1, t->stride);
    t->slots = calloc(nslots, sizeof(*t->slots));
    if (t->pool && t->slots)
        return t;
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
    free(t->pool);
    free(t->slots);
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
    struct slot *slots = calloc((size_t)mask + 1, sizeof(*slots));

    if (slots == NULL)
        return; /* keep probing the fuller table: slower, still correct */
    for (uint32_t i = 0; i <= t->mask; i++)
        if (t->slots[i].index1 != 0)
            slot_put(slots, mask, t->slots[i]);
    free(t->slots);
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
    list_unlink(t, f->list, f);
    if (!nfs_flow_is_empty(f)) {
        list_unlink(t, LIST_AGE, f);
        t->filled--;
    }
    f->lru_next = t->free_head;
    t->free_head = f->index;
    t->live--;
}

static void
end_flow(struct nfs_flow_table *t, struct nfs_flow *f, uint8_t reason)
{
    static const enum nfs_counter counter[] = {
        [NFS_END_IDLE] = NFS_C_FLOWS_IDLE,       [NFS_END_ACTIVE] = NFS_C_FLOWS_ACTIVE,
        [NFS_END_OF_FLOW] = NFS_C_FLOWS_TCP_END, [NFS_END_FORCED] = NFS_C_FLOWS_FLUSHED,
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
    list_unlink(t, LIST_AGE, f);
    t->filled--;
    nfs_flow_restart(f, t->opt.keep_direction);
    memset(nfs_flow_state(f), 0, t->stride - sizeof(*f));
}

static void
evict_one(struct nfs_flow_table *t)
{
    struct nfs_flow *f = list_head(t, LIST_CLOSING);

    if (f == NULL)
        f = list_head(t, LIST_OPEN);
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
        t->free_head = at(t, index)->lru_next;
    } else {
        index = t->pool_used++;
    }
    f = at(t, index);
    f->index = index;
    nfs_flow_init(f, key, hash);
    memset(nfs_flow_state(f), 0, t->stride - sizeof(*f));
    index_insert(t, f);
    f->list = LIST_OPEN;
    list_append(t, LIST_OPEN, f);
    t->live++;
    return f;
}

/*
 * The cuts a packet's arrival makes (NFStream's flow_expiration_handler, then the TCP rule):
 * returns the flow the packet belongs to, which may be a new one.
 */
static struct nfs_flow *
cut_on_arrival(struct nfs_flow_table *t, struct nfs_flow *f, const struct nfs_packet *pkt)
{
    uint64_t now = ms(pkt->ts_us);
    const struct nfs_flow_key key = f->key;
    uint32_t hash = f->hash;

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
    release(t, f);
    return add(t, &key, hash);
}

/* Keeps the lists in time order after f counted a packet. */
static void
requeue(struct nfs_flow_table *t, struct nfs_flow *f, bool was_empty)
{
    enum list_id l = (f->tcp_state & NFS_TCP_CLOSED) ? LIST_CLOSING : LIST_OPEN;

    list_unlink(t, f->list, f);
    f->list = (uint8_t)l;
    list_append(t, l, f);
    if (was_empty) { /* a flow starts: a new entry's, or an active-timeout continuation's */
        list_append(t, LIST_AGE, f);
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
    struct nfs_flow *f = find(t, key, hash);
    bool was_empty;

    f = f ? cut_on_arrival(t, f, pkt) : add(t, key, hash);
    if (f == NULL)
        return NULL;
    was_empty = nfs_flow_is_empty(f);
    nfs_flow_update(f, pkt, side, &t->opt, obs);
    requeue(t, f, was_empty);
    return f;
}

void
nfs_flow_table_end(struct nfs_flow_table *t, struct nfs_flow *flow, uint8_t end_reason)
{
    end_flow(t, flow, end_reason);
    release(t, flow);
}

/* ---- expiry ---- */

static bool
idle_due(const struct nfs_flow_table *t, const struct nfs_flow *f, uint64_t now)
{
    uint64_t timeout = f->list == LIST_CLOSING ? t->opt.tcp_linger_ms : t->opt.idle_timeout_ms;
    return now - ms(nfs_flow_last_us(f)) >= timeout;
}

static unsigned
expire_list(struct nfs_flow_table *t, enum list_id l, uint64_t now, unsigned budget)
{
    unsigned n = 0;
    struct nfs_flow *f;

    while (n < budget && (f = list_head(t, l)) != NULL && idle_due(t, f, now)) {
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

    while (n < budget && (f = list_head(t, LIST_AGE)) != NULL &&
           now - ms(nfs_flow_first_us(f)) >= t->opt.active_timeout_ms) {
        cut_active(t, f);
        n++;
    }
    return n;
}

unsigned
nfs_flow_table_expire(struct nfs_flow_table *t, uint64_t now_us, unsigned budget)
{
    uint64_t now = ms(now_us);
    unsigned n = expire_list(t, LIST_CLOSING, now, budget);

    n += expire_list(t, LIST_OPEN, now, budget - n);
    if (t->opt.active_scan)
        n += expire_active(t, now, budget - n);
    return n;
}

void
nfs_flow_table_set_timeouts(struct nfs_flow_table *t, uint64_t idle_timeout_ms,
                            uint64_t active_timeout_ms, uint64_t tcp_linger_ms)
{
    t->opt.idle_timeout_ms = idle_timeout_ms;
    t->opt.active_timeout_ms = active_timeout_ms;
    t->opt.tcp_linger_ms = tcp_linger_ms;
}

/* Forgets every flow at once: the table is as new, its pool pages stay. */
static void
reset(struct nfs_flow_table *t)
{
    memset(t->slots, 0, ((size_t)t->mask + 1) * sizeof(*t->slots));
    for (int l = 0; l < LIST_COUNT; l++)
        t->lists[l] = (struct list){NIL, NIL};
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
    for (uint32_t i = t->lists[LIST_AGE].head; i != NIL;) {
        struct nfs_flow *f = at(t, i);

        i = f->age_next;
        if (i != NIL)
            __builtin_prefetch(at(t, i));
        end_flow(t, f, f->tcp_state & NFS_TCP_CLOSED ? NFS_END_OF_FLOW : NFS_END_FORCED);
    }
    reset(t);
}
