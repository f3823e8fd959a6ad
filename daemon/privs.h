/*
 * privs.h: least privilege, once every capture socket is open.
 *
 * nfsensord needs CAP_NET_RAW for packet sockets, and it keeps needing it: a worker reopens its
 * capture when its interface comes back and a reload (SIGHUP) opens the captures of new or
 * changed interfaces, long after the start. So CAP_NET_RAW stays in the permitted and effective
 * sets; every other capability goes. CAP_NET_ADMIN is never kept: promiscuous mode
 * (PACKET_MR_PROMISC), ring buffers and PACKET_FANOUT are options of a packet socket, which the
 * kernel grants on CAP_NET_RAW alone (measured by tests/integration/test_live_privs.py:
 * promiscuity counted on the device and a fanout group of two workers, as an unprivileged user
 * with CAP_NET_RAW only). Started as root with user: (or --user) it switches to that user and
 * its group; under systemd the unit starts it as its own user with ambient capabilities, and
 * whatever it holds beyond CAP_NET_RAW is dropped the same way.
 */
#ifndef NFS_PRIVS_H
#define NFS_PRIVS_H

#include "common.h"

/* sysexits(3) EX_NOPERM: started without CAP_NET_RAW, or asked to switch user without root.
 * A restart does not fix it, so the unit lists it in RestartPreventExitStatus=. */
#define NFS_EX_NOPERM 77

/*
 * Before anything opens: false with err when the process cannot capture (CAP_NET_RAW neither
 * effective nor permitted; the message names it and how to grant it) or cannot become
 * user/group (NULL or "": stay). Raises CAP_NET_RAW into the effective set when it is only
 * permitted.
 */
bool nfs_privs_check(const char *user, const char *group, struct nfs_error *err);

/*
 * Once the captures are open: switches to user and group (when given and not who we are),
 * sets no_new_privs, and leaves CAP_NET_RAW alone in the effective and permitted sets:
 * inheritable and ambient empty, the bounding set shrunk when allowed (CAP_SETPCAP). Returns
 * false with err when the switch fails; failing to shed capabilities (a seccomp filter that
 * refuses capset) is logged, not fatal. Call before starting any thread: capabilities are per
 * thread, and threads inherit them from their creator.
 */
bool nfs_privs_drop(const char *user, const char *group, struct nfs_error *err);

/* What the process runs as, for the log: "user nfsensor (uid 998), capabilities cap_net_raw". */
void nfs_privs_describe(char *buf, size_t size);

#endif
