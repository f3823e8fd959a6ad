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
#include <sys/types.h>
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
has(uint32_t set_lo, uint32_t set_hi, int cap)
{
    return ((cap < 32 ? set_lo : set_hi) >> (cap % 32)) & 1u;
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

/* The uid and gid of user and group ("" or NULL: ours); false with err when one is unknown. */
static bool
resolve(const char *user, const char *group, uid_t *uid, gid_t *gid, struct nfs_error *err)
{
    *uid = geteuid();
    *gid = getegid();
    if (user != NULL && user[0] != '\0') {
        struct passwd *pw = getpwnam(user);

        if (pw == NULL) {
            nfs_error_set(err, "user %s: no such user", user);
            return false;
        }
        *uid = pw->pw_uid;
        *gid = pw->pw_gid;
    }
    if (group != NULL && group[0] != '\0') {
        struct group *gr = getgrnam(group);

        if (gr == NULL) {
            nfs_error_set(err, "group %s: no such group", group);
            return false;
        }
        *gid = gr->gr_gid;
    }
    return true;
}

bool
nfs_privs_check(const char *user, const char *group, struct nfs_error *err)
{
    struct __user_cap_data_struct d[2];
    uid_t uid;
    gid_t gid;

    if (!resolve(user, group, &uid, &gid, err))
        return false;
    if ((uid != geteuid() || gid != getegid()) && geteuid() != 0) {
        nfs_error_set(err,
                      "user %s, group %s: only root can switch to uid %u gid %u (running as uid "
                      "%u): start nfsensord as root, or as that user with CAP_NET_RAW",
                      user && user[0] ? user : "-", group && group[0] ? group : "-", (unsigned)uid,
                      (unsigned)gid, (unsigned)geteuid());
        return false;
    }
    if (!cap_get(d)) {
        nfs_error_set(err, "capget: %s", strerror(errno));
        return false;
    }
    if (has(d[0].effective, d[1].effective, CAP_NET_RAW))
        return true;
    if (has(d[0].permitted, d[1].permitted, CAP_NET_RAW)) {
        d[CAP_NET_RAW / 32].effective |= 1u << (CAP_NET_RAW % 32);
        if (cap_set(d))
            return true;
    }
    nfs_error_set(err,
                  "capturing needs the capability CAP_NET_RAW, which this process (uid %u) does "
                  "not have: start nfsensord as root, from its systemd unit "
                  "(AmbientCapabilities=CAP_NET_RAW, with CAP_NET_RAW in "
                  "CapabilityBoundingSet=), or grant it to the binary with "
                  "setcap cap_net_raw+ep nfsensord",
                  (unsigned)geteuid());
    return false;
}

static bool
switch_to(uid_t uid, gid_t gid, struct nfs_error *err)
{
    if (uid == geteuid() && gid == getegid())
        return true;
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 || setgroups(1, &gid) != 0 ||
        setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
        nfs_error_set(err, "cannot switch to uid %u gid %u: %s", (unsigned)uid, (unsigned)gid,
                      strerror(errno));
        return false;
    }
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    return true;
}

bool
nfs_privs_drop(const char *user, const char *group, struct nfs_error *err)
{
    struct __user_cap_data_struct d[2];
    uint64_t keep = 1ull << CAP_NET_RAW, have;
    uid_t uid;
    gid_t gid;

    if (!resolve(user, group, &uid, &gid, err))
        return false;
    if (!cap_get(d)) {
        nfs_error_set(err, "capget: %s", strerror(errno));
        return false;
    }
    have = (uint64_t)d[0].permitted | (uint64_t)d[1].permitted << 32;
    if (has(d[0].effective, d[1].effective, CAP_SETPCAP))
        shrink_bounding(keep);
    if (!switch_to(uid, gid, err))
        return false;
    /* No exec could ever gain privileges again (setuid binaries, file capabilities). */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        nfs_error_set(err, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        return false;
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    keep &= have;
    for (int i = 0; i < 2; i++) {
        d[i].permitted = (uint32_t)(keep >> (32 * i));
        d[i].effective = d[i].permitted;
        d[i].inheritable = 0;
    }
    if (!cap_set(d))
        nfs_log_warn("capabilities not reduced (capset: %s)", strerror(errno));
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
