/*
 * privs.c: see privs.h.
 *
 * libcap is not needed for three system calls: capget/capset (version 3, two 32-bit words per
 * set) and prctl for the ambient and bounding sets. The order matters: the bounding set can only
 * shrink while CAP_SETPCAP is held (as root, before the switch); PR_SET_KEEPCAPS keeps the
 * permitted set across setresuid; the effective set is then raised again from it.
 */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

static bool
cap_get(struct __user_cap_data_struct d[2])
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};

    return syscall(SYS_capget, &h, d) == 0;
}

static bool
cap_set(const struct __user_cap_data_struct d[2])
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};

    return syscall(SYS_capset, &h, d) == 0;
}

static bool
has(const struct __user_cap_data_struct d[2], int cap)
{
    return (d[cap / 32].permitted >> (cap % 32)) & 1u;
}

static uint64_t
wanted(bool keep_admin)
{
    return (1ull << CAP_NET_RAW) | (keep_admin ? 1ull << CAP_NET_ADMIN : 0);
}

static void
shrink_bounding(uint64_t keep)
{
    for (int cap = 0; cap <= 63; cap++) {
        if ((keep >> cap) & 1)
            continue;
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
            break; /* past the last capability this kernel knows */
        prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    }
}

static bool
switch_user(const char *user, struct nfs_error *err)
{
    struct passwd *pw = getpwnam(user);

    if (pw == NULL) {
        nfs_error_set(err, "--user %s: no such user", user);
        return false;
    }
    if (geteuid() != 0) {
        nfs_error_set(err, "--user %s: only root can switch users (running as uid %u)", user,
                      (unsigned)geteuid());
        return false;
    }
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 || setgroups(1, &pw->pw_gid) != 0 ||
        setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
        nfs_error_set(err, "--user %s: cannot switch to uid %u gid %u: %s", user,
                      (unsigned)pw->pw_uid, (unsigned)pw->pw_gid, strerror(errno));
        return false;
    }
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    return true;
}

bool
nfs_privs_drop(const char *user, bool keep_admin, struct nfs_error *err)
{
    struct __user_cap_data_struct d[2];
    uint64_t keep = wanted(keep_admin), have;

    if (!cap_get(d)) {
        nfs_error_set(err, "capget: %s", strerror(errno));
        return false;
    }
    have = (uint64_t)d[0].permitted | (uint64_t)d[1].permitted << 32;
    if (has(d, CAP_SETPCAP))
        shrink_bounding(keep);
    if (user != NULL && !switch_user(user, err))
        return false;
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    keep &= have;
    for (int i = 0; i < 2; i++) {
        d[i].permitted = (uint32_t)(keep >> (32 * i));
        d[i].effective = d[i].permitted;
        d[i].inheritable = 0;
    }
    if (!cap_set(d)) {
        if (user != NULL) {
            nfs_error_set(err, "capset: %s", strerror(errno));
            return false;
        }
        nfs_log_debug("capabilities not reduced (capset: %s)", strerror(errno));
    }
    return true;
}

void
nfs_privs_describe(char *buf, size_t size)
{
    static const struct {
        int cap;
        const char *name;
    } names[] = {{CAP_NET_RAW, "cap_net_raw"}, {CAP_NET_ADMIN, "cap_net_admin"}};
    struct __user_cap_data_struct d[2];
    struct passwd *pw = getpwuid(geteuid());
    size_t len;
    int others = 0;

    len = (size_t)snprintf(buf, size, "user %s (uid %u), capabilities", pw ? pw->pw_name : "?",
                           (unsigned)geteuid());
    if (!cap_get(d) || len >= size)
        return;
    for (size_t i = 0; i < NFS_NITEMS(names) && len < size; i++)
        if ((d[names[i].cap / 32].effective >> (names[i].cap % 32)) & 1)
            len += (size_t)snprintf(buf + len, size - len, " %s", names[i].name);
    for (int cap = 0; cap < 64; cap++)
        if (cap != CAP_NET_RAW && cap != CAP_NET_ADMIN &&
            ((d[cap / 32].effective >> (cap % 32)) & 1))
            others++;
    if (len < size && others > 0)
        snprintf(buf + len, size - len, " and %d others", others);
    else if (len < size && (d[0].effective | d[1].effective) == 0)
        snprintf(buf + len, size - len, " none");
}
