/*
 * metrics.c: see metrics.h.
 *
 * One table lists every family: its name, type, help and where its value comes from (a
 * pipeline counter, a range of counters as reasons, the exporter's totals or a collector's
 * statistics). The identities of docs/counters.md read straight off it:
 *   kernel_seen = kernel_dropped + ring_waiting + ring_discarded + received
 *   received = processed + sum(ignored{reason})
 *   flows_created = flows_exported + flows_dropped + flows_active
 *   collector_records = collector_delivered + collector_waiting + collector_spool_dropped
 *                       + collector_failed + collector_undelivered
 */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREFIX "nfsensor_"

enum source {
    COUNTER,   /* one pipeline counter: c.v[first] */
    REASONS,   /* c.v[first..last], one sample per counter, labelled reason */
    CAPTURING, /* 1 while every pipeline of the interface captures */
    EXPORT,    /* a uint64_t of struct nfs_exporter_totals at off */
    COLLECTOR, /* a uint64_t of struct nfs_exporter_stats at off, labelled collector */
    UP,        /* 1 while the collector is connected (tcp) or open */
};

struct family {
    const char *name, *type, *help;
    enum source src;
    int first, last;
    size_t off;
};

#define C(id)          COUNTER, NFS_C_##id, NFS_C_##id, 0
#define R(first, last) REASONS, NFS_C_##first, NFS_C_##last, 0
#define E(m)           EXPORT, 0, 0, offsetof(struct nfs_exporter_totals, m)
#define S(m)           COLLECTOR, 0, 0, offsetof(struct nfs_exporter_stats, m)

/* clang-format off */
static const struct family families[] = {
    {"kernel_seen_packets_total", "counter", "Packets the capture sockets' kernel saw after the filter: put in the ring or dropped (PACKET_STATISTICS, accumulated)", C(KERNEL_SEEN)},
    {"kernel_dropped_packets_total", "counter", "Packets the kernel dropped because the capture ring was full", C(KERNEL_DROPPED)},
    {"ring_waiting_packets", "gauge", "Packets in the capture ring not read yet", C(RING_WAITING)},
    {"ring_discarded_packets_total", "counter", "Packets left unread in the ring of a capture socket that was closed (interface down or gone)", C(RING_DISCARDED)},
    {"interface_dropped_packets_total", "counter", "Packets the network device itself dropped (outside the identities: never seen by the socket)", C(IF_DROPPED)},
    {"received_packets_total", "counter", "Packets read from the capture by the pipelines", C(PACKETS)},
    {"received_bytes_total", "counter", "Wire bytes of the packets metered or ignored by the pipelines", C(BYTES)},
    {"processed_packets_total", "counter", "Packets decoded and metered into a flow", C(PROCESSED)},
    {"ignored_packets_total", "counter", "Packets received but not metered, by reason", R(LINK_UNSUPPORTED, HANDOVER)},
    {"flows_created_total", "counter", "Flows started (new, or an active-timeout continuation's first packet)", C(FLOWS_CREATED)},
    {"flows_ended_total", "counter", "Flows ended, by reason (evicted: the table was full)", R(FLOWS_IDLE, FLOWS_PLUGIN)},
    {"flows_exported_total", "counter", "Ended flows the export queue took", C(FLOWS_EXPORTED)},
    {"flows_dropped_total", "counter", "Ended flows the export queue refused because it was full", C(FLOWS_QUEUE_FULL)},
    {"flows_active", "gauge", "Flows in the flow tables now", C(FLOWS_OPEN)},
    {"capturing", "gauge", "1 while every pipeline of the interface has its capture open", CAPTURING, 0, 0, 0},
    {"export_encoded_records_total", "counter", "Flow records the export thread encoded", E(encoded)},
    {"export_encode_errors_total", "counter", "Flow records the encoder refused", E(encode_errors)},
    {"collector_records_total", "counter", "Flow records the collector took from the encoder", S(taken)},
    {"collector_delivered_records_total", "counter", "Flow records delivered: UDP sent, TCP known read by the collector, file in a finished file", S(delivered)},
    {"collector_waiting_records", "gauge", "Flow records in the collector's unfinished message, spool (TCP, sent or not) or open file", S(waiting)},
    {"collector_spool_dropped_records_total", "counter", "Flow records dropped because the spool was full", S(spool_full)},
    {"collector_failed_records_total", "counter", "Flow records in messages the transport refused", S(send_errors)},
    {"collector_undelivered_records_total", "counter", "Flow records still unconfirmed when the exporter closed", S(undelivered)},
    {"collector_sent_records_total", "counter", "Flow records written to the transport (a replay not counted again)", S(sent)},
    {"collector_replayed_records_total", "counter", "Flow records sent again after an unclean TCP disconnect", S(replayed)},
    {"collector_messages_total", "counter", "IPFIX messages written", S(messages)},
    {"collector_bytes_total", "counter", "IPFIX bytes written, templates included", S(bytes)},
    {"collector_connects_total", "counter", "TCP connections made", S(connects)},
    {"collector_up", "gauge", "1 while the collector is connected (TCP) or open (UDP, file)", UP, 0, 0, 0},
};
/* clang-format on */

void
nfs_metrics_label_value(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", out);
        else if (*s == '"')
            fputs("\\\"", out);
        else if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

/* The reason label of a counter: its dotted name after the first part ("decode.", "flows.",
 * "capture."), and after "expired." for flow ends. */
static const char *
reason_of(enum nfs_counter c)
{
    const char *name = nfs_counter_name(c), *dot = strchr(name, '.');

    name = dot ? dot + 1 : name;
    if (strncmp(name, "expired.", 8) == 0)
        name += 8;
    return name;
}

static void
sample(FILE *out, const char *name, const char *ifname, const char *key, const char *value,
       uint64_t v)
{
    fprintf(out, PREFIX "%s{interface=\"", name);
    nfs_metrics_label_value(out, ifname);
    if (key != NULL) {
        fprintf(out, "\",%s=\"", key);
        nfs_metrics_label_value(out, value);
    }
    fprintf(out, "\"} %" PRIu64 "\n", v);
}

static uint64_t
at(const void *base, size_t off)
{
    uint64_t v;

    memcpy(&v, (const char *)base + off, sizeof(v));
    return v;
}

static void
family_samples(FILE *out, const struct family *f, const struct nfs_metrics_interface *m)
{
    switch (f->src) {
    case COUNTER:
        sample(out, f->name, m->name, NULL, NULL, m->c.v[f->first]);
        break;
    case REASONS:
        for (int c = f->first; c <= f->last; c++)
            sample(out, f->name, m->name, "reason", reason_of((enum nfs_counter)c), m->c.v[c]);
        break;
    case CAPTURING:
        sample(out, f->name, m->name, NULL, NULL, m->capturing);
        break;
    case EXPORT:
        sample(out, f->name, m->name, NULL, NULL, at(&m->export, f->off));
        break;
    case COLLECTOR:
    case UP:
        for (size_t i = 0; i < m->n_collectors; i++) {
            const struct nfs_exporter_stats *s = &m->collectors[i].s;
            uint64_t v = f->src == UP ? strcmp(s->state ? s->state : "", "connected") == 0 ||
                                            strcmp(s->state ? s->state : "", "open") == 0
                                      : at(s, f->off);

            sample(out, f->name, m->name, "collector", m->collectors[i].target, v);
        }
        break;
    }
}

void
nfs_metrics_write(FILE *out, const struct nfs_metrics_interface *ifs, size_t n)
{
    for (size_t k = 0; k < NFS_NITEMS(families); k++) {
        const struct family *f = &families[k];

        fprintf(out, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n", f->name, f->help, f->name,
                f->type);
        for (size_t i = 0; i < n; i++)
            family_samples(out, f, &ifs[i]);
    }
}

char *
nfs_metrics_text(const struct nfs_metrics_interface *ifs, size_t n, size_t *len)
{
    char *buf = NULL;
    FILE *fp = open_memstream(&buf, len);

    if (fp == NULL)
        return NULL;
    nfs_metrics_write(fp, ifs, n);
    if (fclose(fp) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

bool
nfs_metrics_write_file(const char *path, const char *text, size_t len, struct nfs_error *err)
{
    char tmp[4200];
    int fd;
    bool ok;

    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
    if ((fd = mkstemp(tmp)) < 0) {
        nfs_error_set(err, "metrics.textfile: %s: %s", tmp, strerror(errno));
        return false;
    }
    ok = write(fd, text, len) == (ssize_t)len && fchmod(fd, 0644) == 0;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) == 0)
        return true;
    nfs_error_set(err, "metrics.textfile: %s: %s", path, strerror(errno));
    unlink(tmp);
    return false;
}
