/*
 * common.c: helpers declared in common.h.
 */
#include "common.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>

void
nfs_error_set(struct nfs_error *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

char *
nfs_ip_format(const struct nfs_ip *ip, unsigned ip_version, char *buf, size_t size)
{
    if (inet_ntop(ip_version == 6 ? AF_INET6 : AF_INET, ip->b, buf, (socklen_t)size) == NULL)
        buf[0] = '\0';
    return buf;
}
