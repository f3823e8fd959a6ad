/*
 * privs.h: least privilege, once every capture socket is open.
 *
 * nfsensord needs CAP_NET_RAW for packet sockets, also later (an interface that comes back, a
 * reload that adds one), and nothing else: promiscuous mode (PACKET_MR_PROMISC), ring buffers
 * and PACKET_FANOUT are options of a packet socket, not of the device, so CAP_NET_ADMIN is not
 * needed (kept only when asked for, see nfs_privs_drop). Started as root with --user NAME it
 * switches to that user keeping CAP_NET_RAW; under systemd the unit starts it as its own user
 * with ambient capabilities, and whatever it holds beyond what it needs is dropped.
 */
#ifndef NFS_PRIVS_H
#define NFS_PRIVS_H

#include "common.h"

/*
 * user: switch to this user and its group (requires root); NULL: stay who we are.
 * keep_admin: keep CAP_NET_ADMIN too. Drops every other capability from the effective,
 * permitted, inheritable, ambient and (when allowed) bounding sets. Returns false with err
 * when the switch fails; failing to shed capabilities we do not need (a seccomp filter that
 * refuses capset) is not an error. Call before starting any thread: capabilities are per
 * thread, and threads inherit them from their creator.
 */
bool nfs_privs_drop(const char *user, bool keep_admin, struct nfs_error *err);

/* What the process runs as, for the log: "user nfsensor (uid 998), capabilities cap_net_raw". */
void nfs_privs_describe(char *buf, size_t size);

#endif
