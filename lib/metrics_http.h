/*
 * metrics_http.h: the /metrics and /health endpoints (libmicrohttpd, its own thread).
 *
 * The server holds the latest page the owner published (nfs_metrics_http_publish) and serves
 * it as it is: the owner decides when the figures are read, so the HTTP thread never touches
 * pipelines or exporters. GET and HEAD only; /metrics is the text exposition format 0.0.4,
 * /health is 200 "ok" while the owner says healthy, 503 with the reason otherwise.
 * docs/design.md says why libmicrohttpd.
 */
#ifndef NFS_METRICS_HTTP_H
#define NFS_METRICS_HTTP_H

#include "common.h"

struct nfs_metrics_http;

/* Listens on ADDR:PORT ("127.0.0.1:9155", "[::1]:9155"; a numeric address). NULL with err
 * when the address is malformed or cannot be bound. */
struct nfs_metrics_http *nfs_metrics_http_start(const char *listen, struct nfs_error *err);

/* Replaces the page (copied) and the health: NULL why means healthy. Any thread. */
void nfs_metrics_http_publish(struct nfs_metrics_http *h, const char *text, size_t len,
                              const char *why_unhealthy);

/* Stops the thread and frees everything. NULL-safe. */
void nfs_metrics_http_stop(struct nfs_metrics_http *h);

/* Splits "ADDR:PORT" or "[V6]:PORT" into a socket address; false when it is not numeric. */
bool nfs_metrics_parse_listen(const char *listen, void *sockaddr_storage_out, unsigned *len_out);

#endif
