/*
 * observe.c: see observe.h.
 */
#include "observe.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "metrics_http.h"

struct nfs_observe {
    struct nfs_metrics_http *http;
    char textfile[NFS_CONFIG_PATH_SIZE];
    uint64_t interval_ms, last_ms, linger_ms;
    bool published, file_failed;
};

struct nfs_observe *
nfs_observe_start(const struct nfs_config *cfg, bool *failed)
{
    struct nfs_observe *o;
    struct nfs_error err;

    *failed = false;
    if (cfg->metrics.listen[0] == '\0' && cfg->metrics.textfile[0] == '\0')
        return NULL;
    if ((o = calloc(1, sizeof(*o))) == NULL) {
        nfs_log_err("metrics: out of memory");
        *failed = true;
        return NULL;
    }
    snprintf(o->textfile, sizeof(o->textfile), "%s", cfg->metrics.textfile);
    o->interval_ms = cfg->metrics.interval_ms;
    o->linger_ms = cfg->metrics.linger_ms;
    if (cfg->metrics.listen[0] != '\0') {
        if ((o->http = nfs_metrics_http_start(cfg->metrics.listen, &err)) == NULL) {
            nfs_log_err("%s", err.msg);
            free(o);
            *failed = true;
            return NULL;
        }
        nfs_log_info("metrics: serving http://%s/metrics", cfg->metrics.listen);
    }
    return o;
}

bool
nfs_observe_due(const struct nfs_observe *o, uint64_t now_ms)
{
    return o != NULL && (!o->published || now_ms - o->last_ms >= o->interval_ms);
}

int
nfs_observe_wait_ms(const struct nfs_observe *o, uint64_t now_ms)
{
    if (o == NULL)
        return -1;
    if (nfs_observe_due(o, now_ms))
        return 0;
    return (int)(o->last_ms + o->interval_ms - now_ms);
}

void
nfs_observe_publish(struct nfs_observe *o, const struct nfs_metrics_interface *ifs, size_t n,
                    const char *why_unhealthy, uint64_t now_ms)
{
    struct nfs_error err;
    size_t len = 0;
    char *text;

    if (o == NULL)
        return;
    o->published = true;
    o->last_ms = now_ms;
    if ((text = nfs_metrics_text(ifs, n, &len)) == NULL)
        return;
    if (o->http != NULL)
        nfs_metrics_http_publish(o->http, text, len, why_unhealthy);
    if (o->textfile[0] != '\0') {
        if (!nfs_metrics_write_file(o->textfile, text, len, &err)) {
            if (!o->file_failed)
                nfs_log_warn("%s", err.msg); /* once, until it works again */
            o->file_failed = true;
        } else {
            o->file_failed = false;
        }
    }
    free(text);
}

void
nfs_observe_linger(const struct nfs_observe *o)
{
    struct timespec ts;
    sigset_t set;

    if (o == NULL || o->http == NULL || o->linger_ms == 0)
        return;
    nfs_log_info("metrics: serving the final figures for %llu ms (SIGTERM ends it)",
                 (unsigned long long)o->linger_ms);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    ts.tv_sec = (time_t)(o->linger_ms / 1000);
    ts.tv_nsec = (long)(o->linger_ms % 1000) * 1000000;
    while (sigtimedwait(&set, NULL, &ts) < 0 && errno == EINTR)
        ;
}

void
nfs_observe_stop(struct nfs_observe *o)
{
    if (o == NULL)
        return;
    nfs_metrics_http_stop(o->http);
    free(o);
}
