/*
 * log.c: see log.h.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static const char *log_progname = "nfsensord";
static enum nfs_log_level log_max = NFS_LOG_INFO;
static bool log_to_journal;

/* systemd sets JOURNAL_STREAM=dev:inode for the stream it connected to stderr. */
static bool
stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
        return false;
    if (fstat(2, &st) != 0)
        return false;
    return st.st_dev == dev && st.st_ino == ino;
}

void
nfs_log_init(const char *progname, enum nfs_log_level max_level)
{
    log_progname = progname;
    log_max = max_level;
    log_to_journal = stderr_is_journal();
}

void
nfs_log(enum nfs_log_level level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (level > log_max)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (log_to_journal)
        fprintf(stderr, "<%d>%s\n", (int)level, line);
    else
        fprintf(stderr, "%s: %s\n", log_progname, line);
}
