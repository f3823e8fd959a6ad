/*
 * counters.c: names of the counters declared in counters.h.
 */
#include "counters.h"

static const char *const counter_names[NFS_C_COUNT] = {
#define NFS_C_NAME(id, name) [NFS_C_##id] = name,
    NFS_COUNTER_LIST(NFS_C_NAME)
#undef NFS_C_NAME
};

const char *
nfs_counter_name(enum nfs_counter c)
{
    return (unsigned)c < NFS_C_COUNT ? counter_names[c] : "?";
}

uint64_t
nfs_counters_ignored(const struct nfs_counters *c)
{
    uint64_t sum = 0;

    for (int i = NFS_C_LINK_UNSUPPORTED; i <= NFS_C_HANDOVER; i++)
        sum += c->v[i];
    return sum;
}
