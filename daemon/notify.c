/*
 * notify.c: see notify.h.
 */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_len;
static uint64_t watchdog_usec;

void
nfs_notify_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET"), *wd = getenv("WATCHDOG_USEC");
    const char *wd_pid = getenv("WATCHDOG_PID");
    size_t len;

    if (wd != NULL && (wd_pid == NULL || strtoul(wd_pid, NULL, 10) == (unsigned long)getpid()))
        watchdog_usec = strtoull(wd, NULL, 10);
    if (path == NULL || (path[0] != '/' && path[0] != '@') ||
        (len = strlen(path)) >= sizeof(notify_addr.sun_path))
        return;
    notify_addr.sun_family = AF_UNIX;
    memcpy(notify_addr.sun_path, path, len);
    if (path[0] == '@')
        notify_addr.sun_path[0] = '\0'; /* abstract namespace */
    notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

bool
nfs_notify(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    ssize_t n;
    int len;

    if (notify_fd < 0)
        return false;
    va_start(ap, fmt);
    len = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (len < 0)
        return false;
    if ((size_t)len >= sizeof(msg))
        len = (int)sizeof(msg) - 1;
    do
        n = sendto(notify_fd, msg, (size_t)len, MSG_NOSIGNAL, (struct sockaddr *)&notify_addr,
                   notify_len);
    while (n < 0 && errno == EINTR);
    return n == len;
}

uint64_t
nfs_notify_watchdog_usec(void)
{
    return watchdog_usec;
}

uint64_t
nfs_notify_monotonic_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
