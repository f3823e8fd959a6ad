/*
 * spool.c: see spool.h.
 *
 * Memory: two singly linked lists (retained, then pending), with tail pointers.
 * Disk: numbered segment files DIR/TAG.NNNNNN, written in order and read back in order; a
 * segment is removed once read to its end and no longer written. Each entry is a fixed header
 * (magic, lengths, counts) and the message bytes, so a message read back carries everything
 * that was counted when it was pushed.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#define SEGMENT_BYTES (4u << 20)
#define DISK_MAGIC    0x4e465331u /* "NFS1" */

struct list {
    struct nfs_spool_msg *head, *tail;
    struct nfs_spool_level level;
};

struct disk_entry {
    uint32_t magic, len, records, flows;
    uint64_t packets, octets;
};

struct nfs_spool {
    uint64_t mem_limit, disk_limit;
    uint64_t mem_used;
    struct list retained, pending;
    /* disk spool */
    char *dir, *tag;
    int wfd, rfd;
    uint32_t wseg, rseg;
    uint64_t wsize, roff;
    struct nfs_spool_level disk;
    uint64_t spilled, disk_errors;
};

static void
list_append(struct list *l, struct nfs_spool_msg *m)
{
    m->next = NULL;
    if (l->tail != NULL)
        l->tail->next = m;
    else
        l->head = m;
    l->tail = m;
    l->level.msgs++;
    l->level.flows += m->flows;
    l->level.bytes += m->len;
}

static struct nfs_spool_msg *
list_pop(struct list *l)
{
    struct nfs_spool_msg *m = l->head;

    if (m == NULL)
        return NULL;
    l->head = m->next;
    if (l->head == NULL)
        l->tail = NULL;
    l->level.msgs--;
    l->level.flows -= m->flows;
    l->level.bytes -= m->len;
    return m;
}

struct nfs_spool *
nfs_spool_create(const struct nfs_spool_options *o, struct nfs_error *err)
{
    struct nfs_spool *sp = calloc(1, sizeof(*sp));

    if (sp == NULL) {
        nfs_error_set(err, "out of memory");
        return NULL;
    }
    sp->mem_limit = o->mem_bytes;
    sp->wfd = sp->rfd = -1;
    if (o->dir != NULL && o->dir[0] != '\0') {
        sp->dir = strdup(o->dir);
        sp->tag = strdup(o->tag != NULL ? o->tag : "spool");
        sp->disk_limit = o->disk_bytes;
        if (sp->dir == NULL || sp->tag == NULL) {
            nfs_error_set(err, "out of memory");
            nfs_spool_destroy(sp);
            return NULL;
        }
        if (access(sp->dir, W_OK | X_OK) != 0) {
            nfs_error_set(err, "spool directory %s: %s", sp->dir, strerror(errno));
            nfs_spool_destroy(sp);
            return NULL;
        }
    }
    return sp;
}

static void
segment_path(const struct nfs_spool *sp, uint32_t seg, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s.%06u", sp->dir, sp->tag, seg);
}

static void
free_list(struct list *l)
{
    struct nfs_spool_msg *m;

    while ((m = list_pop(l)) != NULL)
        free(m);
}

static void
remove_segments(struct nfs_spool *sp)
{
    char path[4096];

    if (sp->rfd >= 0)
        close(sp->rfd);
    if (sp->wfd >= 0)
        close(sp->wfd);
    sp->rfd = sp->wfd = -1;
    if (sp->disk.msgs != 0 || sp->wseg != sp->rseg || sp->wsize != 0) {
        for (uint32_t s = sp->rseg; s <= sp->wseg; s++) {
            segment_path(sp, s, path, sizeof(path));
            unlink(path);
        }
    }
    sp->rseg = sp->wseg = sp->wseg + 1;
    sp->wsize = sp->roff = 0;
    memset(&sp->disk, 0, sizeof(sp->disk));
}

void
nfs_spool_destroy(struct nfs_spool *sp)
{
    if (sp == NULL)
        return;
    free_list(&sp->retained);
    free_list(&sp->pending);
    if (sp->dir != NULL)
        remove_segments(sp);
    free(sp->dir);
    free(sp->tag);
    free(sp);
}

static struct nfs_spool_msg *
msg_alloc(uint32_t len)
{
    return malloc(sizeof(struct nfs_spool_msg) + len);
}

static bool
disk_push(struct nfs_spool *sp, const struct nfs_ipfix_msg *m)
{
    struct disk_entry e = {DISK_MAGIC, m->len, m->records, m->flows, m->packets, m->octets};
    struct iovec iov[2] = {{&e, sizeof(e)}, {m->data, m->len}};
    char path[4096];

    if (sp->dir == NULL || sp->disk.bytes + m->len > sp->disk_limit)
        return false;
    if (sp->wfd >= 0 && sp->wsize >= SEGMENT_BYTES) {
        close(sp->wfd);
        sp->wfd = -1;
        sp->wseg++;
        sp->wsize = 0;
    }
    if (sp->wfd < 0) {
        segment_path(sp, sp->wseg, path, sizeof(path));
        sp->wfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (sp->wfd < 0) {
            sp->disk_errors++;
            return false;
        }
    }
    if (writev(sp->wfd, iov, 2) != (ssize_t)(sizeof(e) + m->len)) {
        /* A short write leaves a torn entry: this segment takes no more. */
        sp->disk_errors++;
        if (ftruncate(sp->wfd, (off_t)sp->wsize) != 0)
            sp->wsize = SEGMENT_BYTES;
        return false;
    }
    sp->wsize += sizeof(e) + m->len;
    sp->disk.msgs++;
    sp->disk.flows += m->flows;
    sp->disk.bytes += m->len;
    sp->spilled++;
    return true;
}

static bool
mem_push(struct nfs_spool *sp, const struct nfs_ipfix_msg *m)
{
    struct nfs_spool_msg *s = msg_alloc(m->len);

    if (s == NULL)
        return false;
    s->len = m->len;
    s->records = m->records;
    s->flows = m->flows;
    s->packets = m->packets;
    s->octets = m->octets;
    s->end = 0;
    memcpy(s->data, m->data, m->len);
    list_append(&sp->pending, s);
    sp->mem_used += m->len;
    return true;
}

bool
nfs_spool_push(struct nfs_spool *sp, const struct nfs_ipfix_msg *m, bool force)
{
    if (sp->disk.msgs == 0 && sp->mem_used + m->len <= sp->mem_limit && mem_push(sp, m))
        return true;
    if (disk_push(sp, m))
        return true;
    return force && mem_push(sp, m); /* a statistics message may jump the disk part */
}

/* Reads the oldest disk entry into the memory pending list. */
static bool
disk_load(struct nfs_spool *sp)
{
    struct disk_entry e;
    struct nfs_spool_msg *s;
    char path[4096];

    while (true) {
        if (sp->rfd < 0) {
            segment_path(sp, sp->rseg, path, sizeof(path));
            sp->rfd = open(path, O_RDONLY | O_CLOEXEC);
            sp->roff = 0;
            if (sp->rfd < 0)
                break;
        }
        if (sp->rseg == sp->wseg && sp->roff >= sp->wsize)
            return false; /* nothing more written yet */
        if (pread(sp->rfd, &e, sizeof(e), (off_t)sp->roff) == (ssize_t)sizeof(e))
            break;
        /* end of a finished segment: remove it and go on with the next */
        close(sp->rfd);
        sp->rfd = -1;
        if (sp->rseg == sp->wseg)
            return false;
        segment_path(sp, sp->rseg, path, sizeof(path));
        unlink(path);
        sp->rseg++;
    }
    if (sp->rfd < 0 || e.magic != DISK_MAGIC || (s = msg_alloc(e.len)) == NULL)
        goto lost;
    if (pread(sp->rfd, s->data, e.len, (off_t)(sp->roff + sizeof(e))) != (ssize_t)e.len) {
        free(s);
        goto lost;
    }
    sp->roff += sizeof(e) + e.len;
    s->len = e.len;
    s->records = e.records;
    s->flows = e.flows;
    s->packets = e.packets;
    s->octets = e.octets;
    s->end = 0;
    sp->disk.msgs--;
    sp->disk.flows -= e.flows;
    sp->disk.bytes -= e.len;
    list_append(&sp->pending, s);
    sp->mem_used += s->len;
    return true;
lost:
    /* An unreadable disk spool cannot be trusted any further: give it up, counted. */
    sp->disk_errors++;
    remove_segments(sp);
    return false;
}

struct nfs_spool_msg *
nfs_spool_next(struct nfs_spool *sp)
{
    if (sp->pending.head == NULL && sp->disk.msgs > 0)
        disk_load(sp);
    return sp->pending.head;
}

void
nfs_spool_sent(struct nfs_spool *sp, uint64_t end)
{
    struct nfs_spool_msg *m = list_pop(&sp->pending);

    if (m == NULL)
        return;
    m->end = end;
    list_append(&sp->retained, m);
}

void
nfs_spool_release(struct nfs_spool *sp, uint64_t confirmed, uint64_t *flows)
{
    while (sp->retained.head != NULL && sp->retained.head->end <= confirmed) {
        struct nfs_spool_msg *m = list_pop(&sp->retained);

        *flows += m->flows;
        sp->mem_used -= m->len;
        free(m);
    }
}

void
nfs_spool_rewind(struct nfs_spool *sp, uint64_t *flows)
{
    struct list *r = &sp->retained, *p = &sp->pending;

    if (r->head == NULL)
        return;
    *flows += r->level.flows;
    r->tail->next = p->head;
    if (p->tail == NULL)
        p->tail = r->tail;
    p->head = r->head;
    p->level.msgs += r->level.msgs;
    p->level.flows += r->level.flows;
    p->level.bytes += r->level.bytes;
    memset(r, 0, sizeof(*r));
}

void
nfs_spool_clear(struct nfs_spool *sp, uint64_t *flows, uint64_t *packets, uint64_t *octets)
{
    struct nfs_spool_msg *m;

    nfs_spool_rewind(sp, &(uint64_t){0});
    while ((m = nfs_spool_next(sp)) != NULL) {
        list_pop(&sp->pending);
        *flows += m->flows;
        *packets += m->packets;
        *octets += m->octets;
        sp->mem_used -= m->len;
        free(m);
    }
    if (sp->dir != NULL)
        remove_segments(sp);
}

bool
nfs_spool_empty(const struct nfs_spool *sp)
{
    return sp->retained.head == NULL && sp->pending.head == NULL && sp->disk.msgs == 0;
}

bool
nfs_spool_has_pending(const struct nfs_spool *sp)
{
    return sp->pending.head != NULL || sp->disk.msgs > 0;
}

void
nfs_spool_get_stats(const struct nfs_spool *sp, struct nfs_spool_stats *out)
{
    out->pending_mem = sp->pending.level;
    out->pending_disk = sp->disk;
    out->retained = sp->retained.level;
    out->spilled_msgs = sp->spilled;
    out->disk_errors = sp->disk_errors;
}
