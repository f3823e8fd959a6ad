/*
 * metrics_http.c: see metrics_http.h.
 *
 * libmicrohttpd runs one internal thread polling the listening socket and its connections;
 * connections are few (a Prometheus server, an operator's curl), so they are capped and time
 * out. The page is swapped under a mutex; a request copies it into its response.
 */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#define MAX_CONNECTIONS 16
#define TIMEOUT_S       10
#define CONTENT_TYPE    "text/plain; version=0.0.4; charset=utf-8"

struct nfs_metrics_http {
    struct MHD_Daemon *mhd;
    pthread_mutex_t lock;
    char *page;
    size_t page_len;
    char why[256]; /* "": healthy */
};

bool
nfs_metrics_parse_listen(const char *listen, void *out, unsigned *len_out)
{
    struct sockaddr_in *v4 = out;
    struct sockaddr_in6 *v6 = out;
    char host[64];
    const char *colon, *h = listen;
    char *end;
    unsigned long port;
    size_t hlen;

    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');

        h = listen + 1;
        if (close == NULL || close[1] != ':')
            return false;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        if ((colon = strrchr(listen, ':')) == NULL)
            return false;
        hlen = (size_t)(colon - h);
    }
    port = strtoul(colon + 1, &end, 10);
    if (hlen == 0 || hlen >= sizeof(host) || colon[1] == '\0' || *end != '\0' || port < 1 ||
        port > 65535)
        return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memset(out, 0, sizeof(struct sockaddr_storage));
    if (listen[0] != '[' && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len_out = sizeof(*v4);
        return true;
    }
    if (listen[0] == '[' && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len_out = sizeof(*v6);
        return true;
    }
    return false;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *type, const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct nfs_metrics_http *h = cls;
    enum MHD_Result ret;
    char health[300];

    (void)version, (void)upload_data, (void)upload_data_size, (void)con_cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET or HEAD\n", 12);
    pthread_mutex_lock(&h->lock);
    if (strcmp(url, "/metrics") == 0) {
        ret = reply(conn, MHD_HTTP_OK, CONTENT_TYPE, h->page ? h->page : "",
                    h->page ? h->page_len : 0);
    } else if (strcmp(url, "/health") == 0) {
        snprintf(health, sizeof(health), "%s\n", h->why[0] ? h->why : "ok");
        ret = reply(conn, h->why[0] ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, "text/plain",
                    health, strlen(health));
    } else {
        ret = reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", "/metrics or /health\n", 20);
    }
    pthread_mutex_unlock(&h->lock);
    return ret;
}

struct nfs_metrics_http *
nfs_metrics_http_start(const char *listen, struct nfs_error *err)
{
    struct sockaddr_storage addr;
    unsigned len;
    struct nfs_metrics_http *h;

    if (!nfs_metrics_parse_listen(listen, &addr, &len)) {
        nfs_error_set(err, "metrics.listen: expected ADDR:PORT with a numeric address, got \"%s\"",
                      listen);
        return NULL;
    }
    if ((h = calloc(1, sizeof(*h))) == NULL) {
        nfs_error_set(err, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&h->lock, NULL);
    snprintf(h->why, sizeof(h->why), "starting");
    h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                                  (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                              0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &addr,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)TIMEOUT_S, MHD_OPTION_END);
    if (h->mhd == NULL) {
        nfs_error_set(err, "metrics.listen: cannot listen on %s (address in use or not local)",
                      listen);
        nfs_metrics_http_stop(h);
        return NULL;
    }
    return h;
}

void
nfs_metrics_http_publish(struct nfs_metrics_http *h, const char *text, size_t len,
                         const char *why_unhealthy)
{
    char *copy = malloc(len + 1);

    if (copy != NULL) {
        memcpy(copy, text, len);
        copy[len] = '\0';
    }
    pthread_mutex_lock(&h->lock);
    if (copy != NULL) {
        free(h->page);
        h->page = copy;
        h->page_len = len;
    }
    snprintf(h->why, sizeof(h->why), "%s", why_unhealthy ? why_unhealthy : "");
    pthread_mutex_unlock(&h->lock);
}

void
nfs_metrics_http_stop(struct nfs_metrics_http *h)
{
    if (h == NULL)
        return;
    if (h->mhd != NULL)
        MHD_stop_daemon(h->mhd);
    pthread_mutex_destroy(&h->lock);
    free(h->page);
    free(h);
}
