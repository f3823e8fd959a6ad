/*
 * collector.c: see collector.h.
 *
 * Policy notes:
 * - UDP never waits and never reads: an absent collector costs nothing but the datagrams
 *   (ICMP errors are not reported on an unconnected socket, so nothing is logged either).
 * - TCP knows what the collector read only at a clean close it was asked for: after we shut
 *   our side down, the collector's FIN says it read to the end, and its kernel sends FIN only
 *   when its socket had no unread data, so every byte acknowledged before it was consumed. A FIN
 *   we did not ask for proves nothing: a collector killed right after a read (SIGKILL, a crash)
 *   closes with a FIN too, and what it read but had not stored dies with it. That FIN, like a
 *   reset (which loses the unread part of the collector's receive buffer), is an unclean end:
 *   written messages are retained until they lie replay_bytes behind the acknowledged point,
 *   and replayed after any unclean end: at-least-once, with duplicates bounded by replay_bytes
 *   and recognisable by flowId. replay_bytes must cover the collector's receive buffer plus
 *   what it reads ahead of storing (docs/collectors.md).
 * - Backoff doubles from reconnect_min_ms to reconnect_max_ms and starts again from the
 *   minimum once a connection lasted STABLE_MS.
 * - Files: collector_file.c.
 */
#include "collector.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_acked (glibc's lacks it) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "collector_internal.h"

#define STABLE_MS     5000
#define ACK_CHECK_MS  100
#define UDP_SNDBUF    (4 << 20)

static atomic_uint spool_serial; /* disk spool file names: one serial per TCP collector */

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* ------------------------------------------------------------------------------------------ */
/* Targets */

/* "HOST:PORT" or "[V6]:PORT" -> host and port strings. */
static bool
split_host_port(const char *s, char *host, size_t hsize, char *port, size_t psize)
{
    const char *colon, *h = s, *hend;

    if (*s == '[') {
        h = s + 1;
        hend = strchr(h, ']');
        if (hend == NULL || hend[1] != ':')
            return false;
        colon = hend + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
            return false; /* an IPv6 literal needs brackets */
        hend = colon;
    }
    if (hend == h || colon[1] == '\0' || (size_t)(hend - h) >= hsize || strlen(colon + 1) >= psize)
        return false;
    memcpy(host, h, (size_t)(hend - h));
    host[hend - h] = '\0';
    strcpy(port, colon + 1);
    return strspn(port, "0123456789") == strlen(port);
}

static bool
resolve(struct nfs_collector *c, const char *rest, struct nfs_error *err)
{
    struct addrinfo hints = {.ai_socktype = c->kind == K_UDP ? SOCK_DGRAM : SOCK_STREAM}, *res;
    char host[256], port[16];
    int rc;

    if (!split_host_port(rest, host, sizeof(host), port, sizeof(port))) {
        nfs_error_set(err, "%s: expected %s://HOST:PORT ([ADDR]:PORT for IPv6)", c->name,
                      c->kind == K_UDP ? "udp" : "tcp");
        return false;
    }
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        nfs_error_set(err, "%s: cannot resolve %s: %s", c->name, host, gai_strerror(rc));
        return false;
    }
    for (struct addrinfo *a = res; a != NULL && c->n_addrs < MAX_ADDRS; a = a->ai_next) {
        memcpy(&c->addrs[c->n_addrs], a->ai_addr, a->ai_addrlen);
        c->alens[c->n_addrs++] = a->ai_addrlen;
    }
    freeaddrinfo(res);
    return c->n_addrs > 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Templates */

void
nfs_collector_announce(struct nfs_collector *c, uint64_t now_ms)
{
    for (size_t i = 0; i < c->env.n_preamble; i++)
        nfs_framer_add(c->framer, &c->env.preamble[i]);
    nfs_framer_flush(c->framer);
    c->n.templates++;
    c->tmpl_ms = now_ms;
    c->msgs_since_tmpl = 0;
    c->announced = true;
}

/* ------------------------------------------------------------------------------------------ */
/* UDP */

static void
udp_send(struct nfs_collector *c, const struct nfs_ipfix_msg *m)
{
    ssize_t n = sendto(c->fd, m->data, m->len, MSG_DONTWAIT | MSG_NOSIGNAL,
                       (struct sockaddr *)&c->addrs[0], c->alens[0]);

    if (n == (ssize_t)m->len) {
        c->n.sent += m->flows;
        c->n.delivered += m->flows;
        c->n.messages++;
        c->n.bytes += m->len;
        c->msgs_since_tmpl++;
    } else {
        c->n.send_errors += m->flows;
        c->n.not_sent_packets += m->packets;
        c->n.not_sent_octets += m->octets;
    }
}

static bool
udp_open(struct nfs_collector *c, struct nfs_error *err)
{
    int size = UDP_SNDBUF;

    c->fd = socket(c->addrs[0].ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        nfs_error_set(err, "%s: socket: %s", c->name, strerror(errno));
        return false;
    }
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    return true;
}

/* UDP: templates again when template_refresh_s or template_refresh_messages has passed. */
static void
udp_refresh(struct nfs_collector *c, uint64_t now_ms)
{
    uint32_t refresh_s = c->o.template_refresh_s ? c->o.template_refresh_s
                                                 : c->env.template_refresh_s;

    if (nfs_framer_pending(c->framer) != 0)
        return;
    if (!c->announced || now_ms - c->tmpl_ms >= (uint64_t)refresh_s * 1000 ||
        (c->o.template_refresh_messages && c->msgs_since_tmpl >= c->o.template_refresh_messages))
        nfs_collector_announce(c, now_ms);
}

/* ------------------------------------------------------------------------------------------ */
/* TCP */

/* Stream bytes the collector's kernel acknowledged: tcpi_bytes_acked counts the SYN too (and
 * our FIN once acknowledged), so one less, or a message short of its last byte would pass for
 * acknowledged. */
static uint64_t
tcp_acked(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof(ti.tcpi_bytes_acked) ||
        ti.tcpi_bytes_acked == 0)
        return 0;
    return ti.tcpi_bytes_acked - 1;
}

static void
tcp_schedule(struct nfs_collector *c, uint64_t now_ms)
{
    c->st = T_WAIT;
    c->next_attempt_ms = now_ms + c->backoff_ms;
    c->backoff_ms = (uint32_t)min_u64((uint64_t)c->backoff_ms * 2, c->o.reconnect_max_ms);
}

static void
tcp_drop_connection(struct nfs_collector *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->cur = NULL;
    c->cur_off = 0;
    c->pre_len = c->pre_off = 0;
    c->shut = false;
}

/* The connection ended: cleanly (the collector closed after we did; everything acknowledged
 * was read) or not (everything retained is replayed). */
static void
tcp_lost(struct nfs_collector *c, bool clean, uint64_t now_ms)
{
    uint64_t acked = tcp_acked(c->fd);

    if (clean)
        nfs_spool_release(c->spool, acked, &c->n.delivered);
    nfs_spool_rewind(c->spool, &c->n.replayed);
    if (c->st == T_UP || c->st == T_CLOSING)
        c->n.disconnects++;
    tcp_drop_connection(c);
    if (c->closing && clean && nfs_spool_empty(c->spool)) {
        c->st = T_DONE;
        return;
    }
    if (now_ms - c->up_since_ms >= STABLE_MS)
        c->backoff_ms = c->o.reconnect_min_ms;
    tcp_schedule(c, now_ms);
}

/* pre += one message of the connection's preamble. */
static void
pre_append(void *ctx, struct nfs_ipfix_msg *m)
{
    struct nfs_collector *c = ctx;

    if (c->pre_len + m->len > c->pre_cap) {
        size_t cap = (c->pre_len + m->len) * 2;
        uint8_t *p = realloc(c->pre, cap);

        if (p == NULL)
            return;
        c->pre = p;
        c->pre_cap = cap;
    }
    memcpy(c->pre + c->pre_len, m->data, m->len);
    c->pre_len += m->len;
    c->n.messages++;
}

static void tcp_write(struct nfs_collector *c, uint64_t now_ms);

static void
tcp_up(struct nfs_collector *c, uint64_t now_ms)
{
    struct nfs_framer *f = nfs_framer_create(c->o.message_size, c->env.domain, pre_append, c);

    c->st = T_UP;
    c->n.connects++;
    c->up_since_ms = c->ack_check_ms = now_ms;
    c->written = 0;
    c->pre_len = c->pre_off = 0;
    if (f != NULL) {
        for (size_t i = 0; i < c->env.n_preamble; i++)
            nfs_framer_add(f, &c->env.preamble[i]);
        nfs_framer_flush(f);
        c->conn_seq = nfs_framer_seq(f);
        nfs_framer_destroy(f);
    }
    c->n.templates++;
    tcp_write(c, now_ms);
}

static void
tcp_options(int fd, const struct nfs_collector_options *o)
{
    int one = 1, idle = 30, intvl = 10, cnt = 3;
    unsigned timeout_ms = 60000;

    (void)o;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout_ms, sizeof(timeout_ms));
}

/* Starts a non-blocking connect to the next address. */
static void
tcp_connect(struct nfs_collector *c, uint64_t now_ms)
{
    int i = c->next_addr++ % c->n_addrs;

    c->fd = socket(c->addrs[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        tcp_schedule(c, now_ms);
        return;
    }
    tcp_options(c->fd, &c->o);
    if (connect(c->fd, (struct sockaddr *)&c->addrs[i], c->alens[i]) == 0) {
        tcp_up(c, now_ms);
    } else if (errno == EINPROGRESS) {
        c->st = T_CONNECTING;
        c->deadline_ms = now_ms + c->o.connect_timeout_ms;
    } else {
        tcp_drop_connection(c);
        tcp_schedule(c, now_ms);
    }
}

static void
tcp_connected(struct nfs_collector *c, uint64_t now_ms)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0) {
        tcp_up(c, now_ms);
        return;
    }
    tcp_drop_connection(c);
    tcp_schedule(c, now_ms);
}

/* Writes the preamble, then spooled messages, until the socket is full. */
static void
tcp_write(struct nfs_collector *c, uint64_t now_ms)
{
    while (c->st == T_UP && !c->shut) {
        const uint8_t *p;
        size_t left;
        ssize_t n;

        if (c->pre_off < c->pre_len) {
            p = c->pre + c->pre_off;
            left = c->pre_len - c->pre_off;
        } else if (c->cur != NULL) {
            p = c->cur->data + c->cur_off;
            left = c->cur->len - c->cur_off;
        } else {
            if ((c->cur = nfs_spool_next(c->spool)) == NULL)
                return;
            c->cur_off = 0;
            nfs_ipfix_msg_set_seq(c->cur->data, c->conn_seq);
            c->conn_seq += c->cur->records;
            continue;
        }
        n = send(c->fd, p, left, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            tcp_lost(c, false, now_ms);
            return;
        }
        c->written += (uint64_t)n;
        c->n.bytes += (uint64_t)n;
        if (c->pre_off < c->pre_len) {
            c->pre_off += (size_t)n;
            continue;
        }
        c->cur_off += (size_t)n;
        if (c->cur_off == c->cur->len) {
            if (c->cur->end == 0)
                c->n.sent += c->cur->flows; /* first time: a replay is not counted again */
            c->n.messages++;
            nfs_spool_sent(c->spool, c->written);
            c->cur = NULL;
        }
    }
}

static void
tcp_read(struct nfs_collector *c, uint64_t now_ms)
{
    uint8_t buf[4096];

    while (true) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

        if (n > 0)
            continue; /* collectors send nothing back; ignore whatever comes */
        /* A FIN proves the collector read everything only when it answers ours (the top). */
        if (n == 0)
            tcp_lost(c, c->st == T_CLOSING, now_ms);
        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            tcp_lost(c, false, now_ms);
        return;
    }
}

/* Messages acknowledged long enough ago (replay_bytes behind) count as consumed. */
static void
tcp_release(struct nfs_collector *c, uint64_t now_ms)
{
    uint64_t acked;

    if (now_ms - c->ack_check_ms < ACK_CHECK_MS)
        return;
    c->ack_check_ms = now_ms;
    acked = tcp_acked(c->fd);
    if (acked > c->o.replay_bytes)
        nfs_spool_release(c->spool, acked - c->o.replay_bytes, &c->n.delivered);
}

static void
tcp_spool(struct nfs_collector *c, const struct nfs_ipfix_msg *m, uint64_t now_ms)
{
    if (!nfs_spool_push(c->spool, m, m->flows == 0)) {
        c->n.spool_full += m->flows;
        c->n.not_sent_packets += m->packets;
        c->n.not_sent_octets += m->octets;
        return;
    }
    if (c->st == T_UP)
        tcp_write(c, now_ms);
}

/* The first connection, waited for (require_connect). */
static bool
tcp_connect_now(struct nfs_collector *c, uint64_t now_ms, struct nfs_error *err)
{
    struct pollfd pfd;
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    tcp_connect(c, now_ms);
    if (c->st == T_CONNECTING) {
        pfd = (struct pollfd){.fd = c->fd, .events = POLLOUT};
        if (poll(&pfd, 1, (int)c->o.connect_timeout_ms) == 1 &&
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0) {
            tcp_up(c, now_ms);
        } else {
            errno = soerr ? soerr : ETIMEDOUT;
            tcp_drop_connection(c);
            c->st = T_WAIT;
        }
    }
    if (c->st != T_UP) {
        nfs_error_set(err, "%s: cannot connect: %s", c->name, strerror(errno));
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Common */

static void
framed(void *ctx, struct nfs_ipfix_msg *m)
{
    struct nfs_collector *c = ctx;

    switch (c->kind) {
    case K_UDP:
        udp_send(c, m);
        break;
    case K_TCP:
        tcp_spool(c, m, nfs_mono_ms());
        break;
    case K_FILE:
        nfs_collector_file_write(c, m);
        break;
    }
}

void
nfs_collector_options_default(struct nfs_collector_options *o, const char *target)
{
    memset(o, 0, sizeof(*o));
    o->target = target;
    o->message_size = 65000;
    if (target != NULL && strncmp(target, "udp://", 6) == 0)
        o->message_size = 1400;
    else if (target != NULL && strncmp(target, "tcp://", 6) == 0)
        o->message_size = 8192;
    o->template_refresh_messages = 4096;
    o->spool_bytes = 64ull << 20;
    o->spool_disk_bytes = 1ull << 30;
    o->replay_bytes = 8ull << 20;
    o->reconnect_min_ms = 1000;
    o->reconnect_max_ms = 60000;
    o->connect_timeout_ms = 5000;
}

static void
fill_defaults(struct nfs_collector_options *o)
{
    struct nfs_collector_options d;

    nfs_collector_options_default(&d, o->target);
    if (o->message_size == 0)
        o->message_size = d.message_size;
    if (o->spool_bytes == 0)
        o->spool_bytes = d.spool_bytes;
    if (o->spool_disk_bytes == 0)
        o->spool_disk_bytes = d.spool_disk_bytes;
    if (o->replay_bytes == 0)
        o->replay_bytes = d.replay_bytes;
    if (o->replay_bytes > o->spool_bytes / 2)
        o->replay_bytes = o->spool_bytes / 2;
    if (o->reconnect_min_ms == 0)
        o->reconnect_min_ms = d.reconnect_min_ms;
    if (o->reconnect_max_ms < o->reconnect_min_ms)
        o->reconnect_max_ms = o->reconnect_min_ms > d.reconnect_max_ms ? o->reconnect_min_ms
                                                                        : d.reconnect_max_ms;
    if (o->connect_timeout_ms == 0)
        o->connect_timeout_ms = d.connect_timeout_ms;
}

static bool
open_udp_tcp(struct nfs_collector *c, uint64_t now_ms, struct nfs_error *err)
{
    char tag[64];
    struct nfs_spool_options so = {c->o.spool_bytes, c->spool_dir, c->o.spool_disk_bytes, tag};

    if (!resolve(c, c->name + 6, err))
        return false;
    if (c->kind == K_UDP) {
        if (!udp_open(c, err))
            return false;
        nfs_collector_announce(c, now_ms);
        return true;
    }
    /* Unique in the process too: a daemon runs one exporter per interface. */
    snprintf(tag, sizeof(tag), "nfsensor-spool-%ld-%u-%u", (long)getpid(),
             atomic_fetch_add(&spool_serial, 1), c->env.index);
    if ((c->spool = nfs_spool_create(&so, err)) == NULL)
        return false;
    c->backoff_ms = c->o.reconnect_min_ms;
    if (c->o.require_connect)
        return tcp_connect_now(c, now_ms, err);
    tcp_connect(c, now_ms);
    return true;
}

struct nfs_collector *
nfs_collector_open(const struct nfs_collector_options *o, const struct nfs_collector_env *env,
                   struct nfs_error *err)
{
    struct nfs_collector *c = calloc(1, sizeof(*c));
    uint64_t now_ms = nfs_mono_ms();
    bool ok;

    if (c == NULL || (c->name = strdup(o->target)) == NULL) {
        free(c);
        nfs_error_set(err, "out of memory");
        return NULL;
    }
    c->fd = c->ffd = -1;
    c->o = *o;
    c->o.target = c->name;
    fill_defaults(&c->o);
    c->env = *env;
    pthread_mutex_init(&c->lock, NULL);
    if (o->spool_dir != NULL && (c->spool_dir = strdup(o->spool_dir)) == NULL) {
        nfs_error_set(err, "out of memory");
        nfs_collector_destroy(c);
        return NULL;
    }
    c->framer = nfs_framer_create(c->o.message_size, env->domain, framed, c);
    if (c->framer == NULL) {
        nfs_error_set(err, "out of memory");
        nfs_collector_destroy(c);
        return NULL;
    }
    if (env->netflow9)
        nfs_framer_set_netflow9(c->framer);
    if (strncmp(c->name, "udp://", 6) == 0 || strncmp(c->name, "tcp://", 6) == 0) {
        c->kind = c->name[0] == 'u' ? K_UDP : K_TCP;
        ok = open_udp_tcp(c, now_ms, err);
    } else if (strstr(c->name, "://") != NULL) {
        nfs_error_set(err, "%s: unknown scheme (udp://, tcp:// or a file path)", c->name);
        ok = false;
    } else {
        c->kind = K_FILE;
        ok = nfs_collector_file_open(c, now_ms, err);
    }
    if (!ok) {
        if (c->kind == K_FILE && c->tmp_path != NULL && c->ffd >= 0)
            unlink(c->tmp_path);
        nfs_collector_destroy(c);
        return NULL;
    }
    nfs_collector_publish(c);
    return c;
}

void
nfs_collector_add(struct nfs_collector *c, const struct nfs_ipfix_item *item, uint64_t now_ms)
{
    c->n.taken += item->flows;
    /* A message boundary first, so templates and rotations happen between messages. */
    if (nfs_framer_pending(c->framer) != 0 && !nfs_framer_fits(c->framer, item))
        nfs_framer_flush(c->framer);
    if (c->kind == K_UDP)
        udp_refresh(c, now_ms);
    else if (c->kind == K_FILE)
        nfs_collector_file_before_item(c, now_ms);
    if (nfs_framer_pending(c->framer) == 0)
        c->first_item_ms = now_ms;
    if (!nfs_framer_add(c->framer, item)) {
        c->n.send_errors += item->flows; /* larger than a message: cannot be sent */
        c->n.not_sent_packets += item->packets;
        c->n.not_sent_octets += item->octets;
    }
}

void
nfs_collector_flush(struct nfs_collector *c, uint64_t now_ms)
{
    c->first_item_ms = now_ms;
    nfs_framer_flush(c->framer);
}

bool
nfs_collector_pollfd(struct nfs_collector *c, struct pollfd *pfd)
{
    if (c->kind != K_TCP || c->fd < 0)
        return false;
    pfd->fd = c->fd;
    pfd->revents = 0;
    if (c->st == T_CONNECTING) {
        pfd->events = POLLOUT;
    } else {
        pfd->events = POLLIN;
        if (!c->shut && (c->pre_off < c->pre_len || c->cur != NULL ||
                         nfs_spool_has_pending(c->spool)))
            pfd->events |= POLLOUT;
    }
    return true;
}

void
nfs_collector_io(struct nfs_collector *c, short revents, uint64_t now_ms)
{
    if (c->kind != K_TCP || c->fd < 0 || revents == 0)
        return;
    if (c->st == T_CONNECTING) {
        tcp_connected(c, now_ms);
        return;
    }
    if (revents & (POLLIN | POLLERR | POLLHUP))
        tcp_read(c, now_ms);
    if (c->fd >= 0 && (revents & POLLOUT))
        tcp_write(c, now_ms);
}

uint64_t
nfs_collector_timer(struct nfs_collector *c, uint64_t now_ms, uint32_t flush_ms)
{
    uint64_t next = now_ms + 1000;

    if (nfs_framer_pending(c->framer) != 0) {
        if (now_ms - c->first_item_ms >= flush_ms)
            nfs_collector_flush(c, now_ms);
        else
            next = min_u64(next, c->first_item_ms + flush_ms);
    }
    if (c->kind == K_FILE && c->o.rotate_s && c->ffd >= 0 &&
        (c->fflows > 0 || nfs_framer_pending(c->framer) != 0)) {
        uint64_t due = c->opened_ms + (uint64_t)c->o.rotate_s * 1000;

        if (now_ms >= due)
            nfs_collector_file_finish(c);
        else
            next = min_u64(next, due);
    }
    if (c->kind != K_TCP)
        return next;
    switch (c->st) {
    case T_WAIT:
        if (now_ms >= c->next_attempt_ms && !(c->closing && nfs_spool_empty(c->spool)))
            tcp_connect(c, now_ms);
        else
            next = min_u64(next, c->next_attempt_ms);
        break;
    case T_CONNECTING:
        if (now_ms >= c->deadline_ms) {
            tcp_drop_connection(c);
            tcp_schedule(c, now_ms);
        } else {
            next = min_u64(next, c->deadline_ms);
        }
        break;
    case T_UP:
        tcp_release(c, now_ms);
        tcp_write(c, now_ms);
        next = min_u64(next, now_ms + ACK_CHECK_MS);
        break;
    default:
        break;
    }
    return next;
}

bool
nfs_collector_drained(struct nfs_collector *c, uint64_t now_ms)
{
    if (!c->closing) {
        c->closing = true;
        nfs_collector_flush(c, now_ms);
    }
    if (c->kind != K_TCP)
        return true;
    if (c->st == T_DONE)
        return true;
    if (c->st == T_WAIT && nfs_spool_empty(c->spool))
        return true;
    if (c->st == T_UP) {
        tcp_write(c, now_ms);
        if (c->st == T_UP && c->pre_off == c->pre_len && c->cur == NULL &&
            !nfs_spool_has_pending(c->spool)) {
            shutdown(c->fd, SHUT_WR); /* the collector's close will prove it read it all */
            c->shut = true;
            c->st = T_CLOSING;
        }
    }
    return false;
}

bool
nfs_collector_close(struct nfs_collector *c, struct nfs_error *err)
{
    bool ok;

    if (c->framer != NULL && c->kind != K_TCP)
        nfs_framer_flush(c->framer);
    if (c->kind == K_TCP && c->spool != NULL) {
        uint64_t p = 0, o = 0;

        nfs_spool_clear(c->spool, &c->n.undelivered, &p, &o);
        c->n.not_sent_packets += p;
        c->n.not_sent_octets += o;
    }
    if (c->kind == K_FILE)
        nfs_collector_file_finish(c);
    c->need_open = false;
    tcp_drop_connection(c);
    if (c->kind == K_UDP)
        c->fd = -1; /* tcp_drop_connection closed it */
    c->st = T_DONE;
    nfs_collector_publish(c);
    ok = c->n.spool_full + c->n.send_errors + c->n.undelivered == 0;
    if (!ok)
        nfs_error_set(err,
                      "%s: %" PRIu64 " records not delivered (%" PRIu64 " spool_full, %" PRIu64
                      " send errors, %" PRIu64 " unconfirmed at exit)",
                      c->name, c->n.spool_full + c->n.send_errors + c->n.undelivered,
                      c->n.spool_full, c->n.send_errors, c->n.undelivered);
    return ok;
}

void
nfs_collector_destroy(struct nfs_collector *c)
{
    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    if (c->ffd >= 0 && c->ffd != STDOUT_FILENO)
        close(c->ffd);
    nfs_spool_destroy(c->spool);
    nfs_framer_destroy(c->framer);
    pthread_mutex_destroy(&c->lock);
    free(c->pre);
    free(c->tmp_path);
    free(c->final_path);
    free(c->spool_dir);
    free(c->name);
    free(c);
}

static const char *
state_name(const struct nfs_collector *c)
{
    static const char *const tcp[] = {"waiting", "connecting", "connected", "connected",
                                      "closed"};

    if (c->kind == K_TCP)
        return tcp[c->st];
    return c->ffd >= 0 || c->fd >= 0 || c->need_open ? "open" : "closed";
}

void
nfs_collector_publish(struct nfs_collector *c)
{
    struct nfs_exporter_stats s = {0};
    struct nfs_spool_stats sp = {0};

    s.target = c->name;
    s.transport = c->kind == K_UDP ? "udp" : c->kind == K_TCP ? "tcp" : "file";
    s.state = state_name(c);
    s.sent = c->n.sent;
    s.delivered = c->n.delivered;
    s.spool_full = c->n.spool_full;
    s.send_errors = c->n.send_errors;
    s.replayed = c->n.replayed;
    s.undelivered = c->n.undelivered;
    s.messages = c->n.messages;
    s.bytes = c->n.bytes;
    s.templates = c->n.templates;
    s.connects = c->n.connects;
    s.disconnects = c->n.disconnects;
    s.files = c->n.files;
    if (c->spool != NULL) {
        nfs_spool_get_stats(c->spool, &sp);
        s.spool_records = sp.pending_mem.flows + sp.pending_disk.flows + sp.retained.flows;
        s.spool_bytes = sp.pending_mem.bytes + sp.retained.bytes;
        s.spool_disk_bytes = sp.pending_disk.bytes;
    }
    s.taken = c->n.taken;
    s.waiting = nfs_framer_pending_flows(c->framer) + s.spool_records +
                (c->kind == K_FILE && c->ffd >= 0 ? c->fflows : 0);
    pthread_mutex_lock(&c->lock);
    c->snap = s;
    pthread_mutex_unlock(&c->lock);
}

void
nfs_collector_get_stats(struct nfs_collector *c, struct nfs_exporter_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->snap;
    pthread_mutex_unlock(&c->lock);
}

void
nfs_collector_sent_totals(const struct nfs_collector *c, uint64_t *messages, uint64_t *flows,
                          uint64_t *bytes, uint64_t *not_sent, uint64_t *not_sent_packets,
                          uint64_t *not_sent_octets)
{
    *messages = c->n.messages;
    *flows = c->n.sent;
    *bytes = c->n.bytes;
    *not_sent = c->n.spool_full + c->n.send_errors + c->n.undelivered;
    *not_sent_packets = c->n.not_sent_packets;
    *not_sent_octets = c->n.not_sent_octets;
}
