/*
 * collector_file.c: the file transport of a collector (collector_internal.h).
 *
 * A file is complete when it has its final name: messages go to NAME.tmp, which is synced and
 * renamed when the file is finished (rotation or close); a failed write is cut back, so even the
 * .tmp holds whole messages only. Stdout, devices and FIFOs are streams, written in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector_internal.h"

/* NAME.tmp of the file that starts now; NAME from the strftime pattern. */
static bool
file_open(struct nfs_collector *c, uint64_t now_ms, struct nfs_error *err)
{
    char name[4096];
    time_t t = time(NULL);
    struct tm tm;
    size_t n;

    localtime_r(&t, &tm);
    n = strftime(name, sizeof(name) - 8, c->o.target, &tm);
    if (n == 0)
        snprintf(name, sizeof(name) - 8, "%s", c->o.target);
    free(c->final_path);
    free(c->tmp_path);
    c->final_path = strdup(name);
    c->tmp_path = malloc(strlen(name) + 5);
    if (c->final_path == NULL || c->tmp_path == NULL) {
        nfs_error_set(err, "out of memory");
        return false;
    }
    sprintf(c->tmp_path, "%s.tmp", name);
    c->ffd = open(c->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (c->ffd < 0) {
        nfs_error_set(err, "%s: cannot create %s: %s", c->name, c->tmp_path, strerror(errno));
        return false;
    }
    c->opened_ms = now_ms;
    c->fbytes = c->fflows = 0;
    c->need_open = false;
    nfs_framer_set_seq(c->framer, 0);
    nfs_collector_announce(c, now_ms);
    return true;
}

void
nfs_collector_file_write(struct nfs_collector *c, const struct nfs_ipfix_msg *m)
{
    size_t off = 0;

    while (c->ffd >= 0 && off < m->len) {
        ssize_t n = write(c->ffd, m->data + off, m->len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    if (c->ffd >= 0 && off == m->len) {
        c->fbytes += m->len;
        c->fflows += m->flows;
        c->n.sent += m->flows;
        c->n.messages++;
        c->n.bytes += m->len;
        return;
    }
    /* Cut the torn message off, so the file stays a sequence of whole messages. */
    if (c->ffd >= 0 && !c->is_stream && ftruncate(c->ffd, (off_t)c->fbytes) == 0)
        lseek(c->ffd, (off_t)c->fbytes, SEEK_SET);
    c->n.send_errors += m->flows;
    c->n.not_sent_packets += m->packets;
    c->n.not_sent_octets += m->octets;
}

/* Renames tmp to the final name; a rotating collector never replaces an existing file. */
static bool
file_rename(struct nfs_collector *c)
{
    char alt[4200];
    const char *dot, *base;

    if (c->o.rotate_s == 0 && c->o.rotate_bytes == 0)
        return rename(c->tmp_path, c->final_path) == 0;
    base = strrchr(c->final_path, '/');
    base = base ? base + 1 : c->final_path;
    dot = strrchr(base, '.');
    for (unsigned i = 0; i < 10000; i++) {
        if (i == 0)
            snprintf(alt, sizeof(alt), "%s", c->final_path);
        else if (dot != NULL && dot != base)
            snprintf(alt, sizeof(alt), "%.*s.%u%s", (int)(dot - c->final_path), c->final_path, i,
                     dot);
        else
            snprintf(alt, sizeof(alt), "%s.%u", c->final_path, i);
        if (renameat2(AT_FDCWD, c->tmp_path, AT_FDCWD, alt, RENAME_NOREPLACE) == 0)
            return true;
        if (errno == EINVAL && link(c->tmp_path, alt) == 0) {
            unlink(c->tmp_path); /* no RENAME_NOREPLACE here: link refuses an existing name */
            return true;
        }
        if (errno != EEXIST)
            return false;
    }
    return false;
}

/* Finishes the open file: synced, renamed to its final name. */
void
nfs_collector_file_finish(struct nfs_collector *c)
{
    if (c->ffd < 0)
        return;
    nfs_framer_flush(c->framer);
    if (c->is_stream) {
        if (c->ffd != STDOUT_FILENO)
            close(c->ffd);
        c->ffd = -1;
        c->n.delivered += c->fflows; /* the stream is complete */
        c->fflows = 0;
        return;
    }
    fsync(c->ffd);
    close(c->ffd);
    c->ffd = -1;
    if (file_rename(c)) {
        c->n.files++;
        c->n.delivered += c->fflows;
    } else {
        c->n.send_errors += c->fflows;
    }
    c->need_open = true;
}

/* Before a new message: rotate when the next message could pass rotate_bytes. */
void
nfs_collector_file_before_item(struct nfs_collector *c, uint64_t now_ms)
{
    if (nfs_framer_pending(c->framer) != 0)
        return;
    if (c->ffd >= 0 && c->fflows > 0 && c->o.rotate_bytes &&
        c->fbytes + nfs_framer_mtu(c->framer) > c->o.rotate_bytes)
        nfs_collector_file_finish(c);
    if (c->need_open && !file_open(c, now_ms, &(struct nfs_error){{0}}))
        c->ffd = -1;
}

/* An existing target that is not a regular file or a directory: a device (/dev/null) or a FIFO. */
static bool
is_special(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

/*
 * "-" is stdout; a device or FIFO is opened and written in place, as a stream: renaming
 * NAME.tmp over it would replace /dev/null or the pipe with a plain file. Streams are not
 * rotated. Anything else is a file, written as NAME.tmp and renamed.
 */
bool
nfs_collector_file_open(struct nfs_collector *c, uint64_t now_ms, struct nfs_error *err)
{
    const char *target = c->o.target;

    if (strcmp(target, "-") == 0) {
        if (isatty(STDOUT_FILENO)) {
            nfs_error_set(err, "-: refusing to write IPFIX to a terminal");
            return false;
        }
        c->ffd = STDOUT_FILENO;
    } else if (is_special(target)) {
        c->ffd = open(target, O_WRONLY | O_CLOEXEC);
        if (c->ffd < 0) {
            nfs_error_set(err, "%s: cannot open %s: %s", c->name, target, strerror(errno));
            return false;
        }
    } else {
        return file_open(c, now_ms, err);
    }
    c->is_stream = true;
    c->o.rotate_s = 0;
    c->o.rotate_bytes = 0;
    nfs_collector_announce(c, now_ms);
    return true;
}
