/*
 * collector_internal.h: one collector's state, shared by collector.c (targets, UDP, TCP, the
 * common entry points) and collector_file.c (the file transport: NAME.tmp and rename, rotation,
 * stdout, devices and FIFOs).
 */
#ifndef NFS_COLLECTOR_INTERNAL_H
#define NFS_COLLECTOR_INTERNAL_H

#include <pthread.h>
#include <sys/socket.h>

#include "collector.h"
#include "spool.h"

#define MAX_ADDRS 4

enum kind { K_UDP, K_TCP, K_FILE };

enum tcp_state { T_WAIT, T_CONNECTING, T_UP, T_CLOSING, T_DONE };

struct counters {
    uint64_t sent, delivered, spool_full, send_errors, replayed, undelivered;
    uint64_t messages, bytes, templates, connects, disconnects, files;
    uint64_t not_sent_packets, not_sent_octets;
    uint64_t taken; /* flow records added */
};

struct nfs_collector {
    struct nfs_collector_options o;
    char *name, *spool_dir;
    enum kind kind;
    struct nfs_collector_env env;
    struct nfs_framer *framer;
    uint64_t first_item_ms; /* when the partial message got its first item */
    bool closing;
    struct counters n;
    /* network */
    int fd;
    struct sockaddr_storage addrs[MAX_ADDRS];
    socklen_t alens[MAX_ADDRS];
    int n_addrs, next_addr;
    /* udp */
    uint64_t tmpl_ms;
    uint32_t msgs_since_tmpl;
    bool announced;
    /* tcp */
    enum tcp_state st;
    struct nfs_spool *spool;
    uint64_t next_attempt_ms, deadline_ms, up_since_ms, ack_check_ms;
    uint32_t backoff_ms;
    uint8_t *pre; /* this connection's templates */
    size_t pre_len, pre_cap, pre_off;
    struct nfs_spool_msg *cur; /* the spool message being written */
    size_t cur_off;
    uint64_t written; /* bytes written on this connection */
    uint32_t conn_seq;
    bool shut;
    /* file */
    int ffd;
    char *tmp_path, *final_path;
    uint64_t opened_ms, fbytes, fflows;
    bool is_stream, need_open; /* is_stream: stdout or a device or FIFO, written in place */
    /* snapshot for other threads */
    pthread_mutex_t lock;
    struct nfs_exporter_stats snap;
};

/* The templates and type records through the framer (UDP, a new file). */
void nfs_collector_announce(struct nfs_collector *c, uint64_t now_ms);

/* collector_file.c */
bool nfs_collector_file_open(struct nfs_collector *c, uint64_t now_ms, struct nfs_error *err);
void nfs_collector_file_write(struct nfs_collector *c, const struct nfs_ipfix_msg *m);
void nfs_collector_file_finish(struct nfs_collector *c);
void nfs_collector_file_before_item(struct nfs_collector *c, uint64_t now_ms);

#endif
