/*
 * plugin.c: the registry of built-in plugins and the loader of external ones.
 *
 * Built-ins are listed here explicitly, one line each (a test checks that every plugin file is
 * listed). External plugins are trusted code running inside the sensor, so the loader takes
 * them only from the configured directory and refuses files others could have replaced.
 */
#include "plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

extern const struct nfs_plugin nfs_plugin_ml_tree;
extern const struct nfs_plugin nfs_plugin_dpi;
extern const struct nfs_plugin nfs_plugin_statistics;
extern const struct nfs_plugin nfs_plugin_splt;
extern const struct nfs_plugin nfs_plugin_community_id;

const struct nfs_plugin *const nfs_builtin_plugins[] = {
    &nfs_plugin_ml_tree,
    &nfs_plugin_dpi,
    &nfs_plugin_statistics,
    &nfs_plugin_splt,
    &nfs_plugin_community_id,
    NULL,
};

const struct nfs_plugin *
nfs_plugin_find(const char *name)
{
    for (size_t i = 0; nfs_builtin_plugins[i] != NULL; i++)
        if (strcmp(nfs_builtin_plugins[i]->name, name) == 0)
            return nfs_builtin_plugins[i];
    return NULL;
}

static bool
safe_file(const char *path, struct nfs_error *err)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        nfs_error_set(err, "%s: %s", path, strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        nfs_error_set(err, "%s: not a regular file", path);
        return false;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        nfs_error_set(err, "%s: refused: writable by group or others (chmod go-w)", path);
        return false;
    }
    return true;
}

const struct nfs_plugin *
nfs_plugin_load(const char *dir, const char *name, struct nfs_error *err)
{
    char path[4096];
    const struct nfs_plugin *p;
    void *handle;

    if (strchr(name, '/') != NULL || name[0] == '.') {
        nfs_error_set(err, "plugin name \"%s\": names may not contain '/' or start with '.'", name);
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/%s.so", dir, name);
    if (!safe_file(path, err))
        return NULL;
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        nfs_error_set(err, "%s: %s", path, dlerror());
        return NULL;
    }
    p = dlsym(handle, "nfs_plugin_entry");
    if (p == NULL) {
        nfs_error_set(err, "%s: no symbol nfs_plugin_entry", path);
    } else if (p->abi != NFS_PLUGIN_ABI || p->size != sizeof(struct nfs_plugin)) {
        nfs_error_set(err, "%s: built for plugin ABI %u (size %zu), this nfsensord has %u (%zu)",
                      path, p->abi, p->size, NFS_PLUGIN_ABI, sizeof(struct nfs_plugin));
        p = NULL;
    } else if (strcmp(p->name, name) != 0) {
        nfs_error_set(err, "%s: the plugin calls itself \"%s\"", path, p->name);
        p = NULL;
    }
    if (p == NULL)
        dlclose(handle);
    return p; /* the handle stays open for the life of the process */
}
