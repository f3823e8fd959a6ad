/*
 * exporter.h: IPFIX export of ended flows to any number of collectors, from an export thread.
 *
 * Producers (pipelines) copy each record into their own bounded queue (nfs_exporter_queue) and
 * go on; the exporter's thread encodes every record once with libfixbuf and packs it into
 * messages for each collector: UDP (messages sized to the path MTU, templates re-sent on a
 * timer and every N messages), TCP (templates on every connection; reconnect with capped
 * exponential backoff; a bounded spool, optionally spilling to disk; replay after an unclean
 * disconnect) and RFC 5655 files (rotated by time or size, strftime names, written as NAME.tmp
 * and renamed when complete). Every collector gets every record. The thread owns every
 * libfixbuf object and every socket and file; nothing here blocks a producer except a queue
 * the caller made blocking (offline runs). docs/collectors.md has the guarantees.
 *
 * Lifecycle: create -> add collectors -> (queues) -> records -> close. Collectors are added
 * before the first record or queue (the thread starts then); a new collector set means a new
 * exporter.
 */
#ifndef NFS_EXPORTER_H
#define NFS_EXPORTER_H

#include <stdio.h>

#include "common.h"
#include "export_profile.h"
#include "ipfix.h"
#include "record.h"

struct nfs_exporter_options {
    uint32_t enterprise_number;  /* for NFS_PEN_OWN elements; 0: NFS_PEN_DEFAULT */
    uint32_t observation_domain; /* 0: 1 */
    uint32_t template_refresh_s; /* UDP: resend templates this often (RFC 7011 §8.4); 0: 600 */
    bool rfc5610;                /* send RFC 5610 type records for enterprise elements */
    /* Field tables: groups[0] is the core table (values from the struct nfs_record); NULL: the
     * core table alone. Copied by nfs_exporter_create; the tables must outlive the exporter. */
    const struct nfs_field_group *groups;
    size_t n_groups;
    /* Added with the export thread; 0 means the default for each. */
    uint32_t queue_records;    /* slots of each producer queue; 0: 65536 */
    uint32_t flush_ms;         /* a partial message leaves after this long; 0: 1000 */
    uint32_t stats_interval_s; /* statistics options records every N s; 0: 60 */
    bool stats_records;        /* send them at all (default on) */
    uint32_t drain_timeout_ms; /* close: how long to wait for collectors to take everything;
                                  0: 30000 */
};

/* One collector. nfs_collector_options_default fills every field for a target. */
struct nfs_collector_options {
    /* "udp://HOST:PORT", "tcp://HOST:PORT" (HOST may be an IPv6 literal in brackets), or a
     * file path, which may hold strftime(3) conversions (local time of the file's start);
     * "-" is standard output. Copied. */
    const char *target;
    uint32_t message_size;              /* bytes per IPFIX message; udp 1400, tcp 8192,
                                           file 65000 */
    uint32_t template_refresh_s;        /* UDP; 0: the exporter's */
    uint32_t template_refresh_messages; /* UDP: templates again after N messages; 4096 */
    /* TCP */
    uint64_t spool_bytes;       /* memory spool (pending + replay window); 64 MiB */
    const char *spool_dir;      /* disk spool directory (must exist); NULL: none */
    uint64_t spool_disk_bytes;  /* disk spool bound; 1 GiB */
    uint64_t replay_bytes;      /* acknowledged bytes kept for replay; 8 MiB (at most half
                                   the spool) */
    uint32_t reconnect_min_ms;  /* first retry delay, doubled per failure; 1000 */
    uint32_t reconnect_max_ms;  /* cap; 60000 */
    uint32_t connect_timeout_ms; /* 5000 */
    bool require_connect;       /* adding fails when the first connect fails (the CLI's
                                   behaviour); otherwise it retries in the background */
    /* files */
    uint32_t rotate_s;     /* start a new file every N s; 0: never */
    uint64_t rotate_bytes; /* start a new file before exceeding N bytes; 0: never */
    /* What this collector gets (all zeros: IPFIX biflows with every field group). NetFlow v9
     * only over UDP. key_file is read when the collector is added. */
    struct nfs_export_profile profile;
};

/* One collector's counters. Flow records unless said otherwise. */
struct nfs_exporter_stats {
    const char *target;    /* as given; owned by the exporter */
    uint64_t records;      /* records given to the collector: every record the exporter took */
    uint64_t errors;       /* records it could not take: spool_full + send_errors + undelivered */
    const char *transport; /* "udp", "tcp", "file" */
    const char *state;     /* tcp: "connected", "connecting", "waiting" (backoff), "closed";
                              udp, file: "open", "closed" */
    uint64_t sent;         /* written to the transport (a replay is not counted again) */
    uint64_t delivered;    /* tcp: known consumed by the collector; file: in a finished file;
                              udp: = sent */
    uint64_t spool_full;   /* exporter.spool_full: dropped, the spool was at its bound */
    uint64_t send_errors;  /* in messages the transport refused (UDP buffer full, disk full) */
    uint64_t replayed;     /* tcp: sent again after an unclean disconnect (possible duplicates) */
    uint64_t undelivered;  /* tcp: not confirmed when the exporter closed */
    uint64_t messages, bytes; /* IPFIX messages and bytes written, templates included */
    uint64_t templates;    /* template announcements (connections, refreshes, files) */
    uint64_t connects, disconnects; /* tcp */
    uint64_t files;        /* file: files finished */
    uint64_t spool_records, spool_bytes, spool_disk_bytes; /* tcp: now in the spool */
    /* Loss accounting (docs/counters.md), one snapshot of the export thread:
     * taken = delivered + waiting + spool_full + send_errors + undelivered. */
    uint64_t taken;   /* flow records the collector took from the encoder */
    uint64_t waiting; /* in its unfinished message, its spool (tcp) or its open file */
};

/* Exporter-wide counters (names as printed: exporter.<name>). */
struct nfs_exporter_totals {
    uint64_t records;       /* accepted into the queues */
    uint64_t queue_full;    /* exporter.queue_full: refused, a queue was full */
    uint64_t queue_full_packets, queue_full_octets;
    uint64_t queue_waits;   /* a blocking queue waited for room */
    uint64_t encoded;       /* records the export thread encoded */
    uint64_t encode_errors; /* records libfixbuf refused */
};

/* What the pipelines measured, filled in by the daemon for the statistics options records
 * (RFC 7011 §4.1, §4.2). Totals since start. */
struct nfs_exporter_metering {
    uint64_t packets, octets;  /* captured and seen by the pipelines */
    uint64_t ignored_packets;  /* seen but not metered (every decode.* skip reason) */
    uint64_t ignored_octets;
    uint64_t kernel_drops;     /* dropped before capture (pcap_stats ps_drop + ps_ifdrop) */
    uint64_t flows;            /* flows created */
};

struct nfs_exporter;
struct nfs_export_queue;

/* Fills o with the defaults: NFS_PEN_DEFAULT, domain 1, 600 s refresh, RFC 5610 on, core
 * table, 65536-record queues, 1 s flush, statistics every 60 s, 30 s drain. */
void nfs_exporter_options_default(struct nfs_exporter_options *o);

/* Fills o with the defaults for that target (see struct nfs_collector_options). */
void nfs_collector_options_default(struct nfs_collector_options *o, const char *target);

/* Returns NULL, with err set, when the field tables do not make a valid model. opt may be NULL
 * (all defaults). Free with nfs_exporter_close. */
struct nfs_exporter *nfs_exporter_create(const struct nfs_exporter_options *opt,
                                         struct nfs_error *err);

/* Adds a collector. Fails, naming the target, when it is malformed, cannot be resolved, a file
 * or the spool directory cannot be created, a TCP collector with require_connect cannot be
 * reached, or the exporter has already started. Templates go out at once (UDP, file, a
 * connected TCP collector). */
bool nfs_exporter_add_collector(struct nfs_exporter *exp, const struct nfs_collector_options *o,
                                struct nfs_error *err);

/* nfs_exporter_add_collector with the target's defaults and require_connect set. */
bool nfs_exporter_add(struct nfs_exporter *exp, const char *target, struct nfs_error *err);

/* The IPFIX elements collector i's profile leaves out, one call of fn each (--check-config). */
void nfs_exporter_left_out(const struct nfs_exporter *exp, size_t i,
                           void (*fn)(void *ctx, const char *name, const char *why), void *ctx);

/* Starts the export thread (done by the first queue or record if not called). */
bool nfs_exporter_start(struct nfs_exporter *exp, struct nfs_error *err);

/*
 * A queue for one producer thread (one per pipeline), owned by the exporter. A dropping queue
 * (blocking false: live capture) refuses a record when full and counts it; a blocking one
 * (offline, or the final flush at shutdown) waits. NULL with err when out of memory.
 */
struct nfs_export_queue *nfs_exporter_queue(struct nfs_exporter *exp, bool blocking,
                                            struct nfs_error *err);
void nfs_export_queue_set_blocking(struct nfs_export_queue *q, bool blocking);

/*
 * Producer: copies the record into the queue. values[g] holds field group g's values
 * (values[0]: the struct nfs_record; a NULL group is sent as zeros); every group is a flat
 * block (strings are char arrays), copied as bytes. Returns false when the record was dropped
 * (queue full, counted as exporter.queue_full) or its IP version has no template.
 */
bool nfs_export_queue_push(struct nfs_export_queue *q, unsigned ip_version,
                           const void *const *values);

/* The same with the pipeline's record callback shape (nfs_record_fn): ctx is the queue. */
void nfs_export_queue_emit(void *ctx, const struct nfs_record *rec, const void *const *groups);

/* Single-producer convenience on the exporter's own blocking queue (offline callers). Returns
 * false, with err set, only for a record of an IP version without a template. */
bool nfs_exporter_export(struct nfs_exporter *exp, const struct nfs_record *rec,
                         struct nfs_error *err);
bool nfs_exporter_export_values(struct nfs_exporter *exp, unsigned ip_version,
                                const void *const *values, struct nfs_error *err);

/* Waits until every record queued before the call is encoded and its messages are handed to
 * the transports (written to files and sockets, or spooled). */
bool nfs_exporter_flush(struct nfs_exporter *exp, struct nfs_error *err);

/* The daemon's metering totals for the statistics records. Any thread. */
void nfs_exporter_set_metering(struct nfs_exporter *exp, const struct nfs_exporter_metering *m);

size_t nfs_exporter_target_count(const struct nfs_exporter *exp);

/* Counters of collector i (in order of adding); false when i is out of range. Any thread. */
bool nfs_exporter_get_stats(const struct nfs_exporter *exp, size_t i,
                            struct nfs_exporter_stats *out);
void nfs_exporter_get_totals(const struct nfs_exporter *exp, struct nfs_exporter_totals *out);

/* One line for sd_notify STATUS=: "export: N records, N queue_full; tcp://...: connected,
 * spool N, N spool_full; ...". Returns the length (truncated to size). */
size_t nfs_exporter_status(const struct nfs_exporter *exp, char *buf, size_t size);

/* Every counter, one "name value" per line (exporter.queue_full 0, exporter.collector[1]
 * .spool_full 0 ...), for SIGUSR1 and the exit summary. */
void nfs_exporter_print_stats(const struct nfs_exporter *exp, FILE *out);

/* The model the exporter encodes with (for the element file, --list-fields...). */
const struct nfs_ipfix_model *nfs_exporter_model(const struct nfs_exporter *exp);

/*
 * The first half of close: drains, delivers and closes every collector (same result as close)
 * but keeps the counters readable, for a final nfs_exporter_print_stats. Then call close.
 * NULL-safe; a second call returns the first one's result.
 */
bool nfs_exporter_stop(struct nfs_exporter *exp, struct nfs_error *err);

/*
 * Drains every queue (producers must have stopped), sends the final statistics records, lets
 * collectors take everything (TCP: until the collector has closed its side after ours, which
 * proves it read the whole stream, or drain_timeout_ms), finishes files, stops the thread and
 * frees the exporter and its queues. NULL-safe. Returns false, err naming the first collector,
 * when a collector did not get every record (dropped or undelivered); freed anyway.
 */
bool nfs_exporter_close(struct nfs_exporter *exp, struct nfs_error *err);

#endif
