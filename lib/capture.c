/*
 * capture.c: see capture.h.
 *
 * Classic pcap files without a BPF filter are walked directly, record header after record
 * header, and their frames point into the file's bytes, so nothing is copied per packet
 * (PERF-NOTES.md: libpcap's reader issues 4 KiB reads and copies each packet twice, 4-5x below
 * memory bandwidth). Regular files are mapped a window at a time: the kernel copies nothing
 * (read() into a buffer was a fifth of the metering profile's CPU), MAP_POPULATE maps a window's
 * pages in one call instead of a fault per page, and unmapping the window behind the walk keeps
 * the resident set at one window whatever the file's size. Pipes and files that cannot be
 * mapped are read in page-aligned chunks instead. pcapng, filtered reads and anything else go
 * through libpcap, whose buffer is reused by every read, so its frames are copied into a batch
 * buffer. Files are opened one at a time; the sizes of all of them are read up front for the
 * progress.
 */
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH_BYTES    (4u << 20) /* copy buffer of the libpcap path */
#define MAX_CAPLEN     262144u    /* libpcap's own bound on a record (MAXIMUM_SNAPLEN) */
#define PREFETCH_AHEAD 8192       /* bytes asked for ahead of the walk */
#define CHUNK          (1u << 20) /* bytes read at a time: small enough to stay in L2 */
#define WINDOW         (8u << 20) /* bytes mapped at a time: many records, few mmap calls */
#define HUGE_PAGE      (2u << 20) /* windows end on this boundary (map_more) */

#define MAX_WINDOWS 16 /* files mapped at once in one process; more are read() */

/*
 * A file cut while a window of it is mapped makes the pages past its new end raise SIGBUS when
 * they are read. The handler maps a page of zeros there and marks the window cut; the walk then
 * reports the file as corrupt, as the read() path does for a short file, instead of the whole
 * sensor dying. A SIGBUS at any other address gets the default action.
 */
struct guard {
    _Atomic uintptr_t lo, hi; /* the mapped range; lo == 0: a free slot */
    atomic_bool cut;
};

static struct guard guards[MAX_WINDOWS];
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

static void
on_sigbus(int sig, siginfo_t *si, void *uctx)
{
    uintptr_t a = (uintptr_t)si->si_addr, page = a & ~(uintptr_t)4095;

    (void)uctx;
    for (size_t i = 0; i < MAX_WINDOWS; i++) {
        struct guard *g = &guards[i];

        if (a < atomic_load(&g->lo) || a >= atomic_load(&g->hi))
            continue;
        if (mmap((void *)page, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
            MAP_FAILED)
            break;
        atomic_store(&g->cut, true);
        return;
    }
    signal(sig, SIG_DFL); /* the faulting access runs again and gets the default action */
}

static void
install_guard(void)
{
    struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_RESTART};

    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

/* A free guard slot for [lo, lo + len), or NULL when every slot is taken. */
static struct guard *
guard_take(const void *lo, size_t len)
{
    pthread_once(&guard_once, install_guard);
    for (size_t i = 0; i < MAX_WINDOWS; i++) {
        uintptr_t free_slot = 0;

        if (atomic_compare_exchange_strong(&guards[i].lo, &free_slot, UINTPTR_MAX)) {
            atomic_store(&guards[i].cut, false);
            atomic_store(&guards[i].hi, (uintptr_t)lo + len);
            atomic_store(&guards[i].lo, (uintptr_t)lo);
            return &guards[i];
        }
    }
    return NULL;
}

static void
guard_give_back(struct guard *g)
{
    atomic_store(&g->hi, 0);
    atomic_store(&g->lo, 0);
}

/* A classic pcap file walked by hand: buf holds the file's bytes from `consumed` on. */
struct chunked {
    int fd;            /* >= 0: the fast path is in use */
    uint8_t *buf;      /* the walk's bytes: chunk, or inside the mapped window */
    size_t len, pos;   /* bytes in buf, walk position */
    size_t prefetched; /* buf offset up to which every cache line was prefetched */
    uint64_t consumed; /* file bytes before buf[0] */
    bool eof;          /* no byte after buf[len - 1] */
    bool swapped;      /* the file's byte order is not ours */
    bool nanoseconds;  /* record times are in ns */
    uint8_t *chunk;    /* CHUNK bytes, page-aligned: the read() path */
    bool mapping;      /* the file is read by mapping windows of it, not by read() */
    void *window;      /* the current window, or NULL */
    size_t window_len;
    struct guard *guard; /* the window's, while it is mapped */
};

struct nfs_capture {
    const char *const *paths;
    size_t n, current;
    char *bpf;
    int dlt;
    uint64_t packets_in_file;
    uint64_t bytes_before; /* sizes of the files already read */
    uint64_t bytes_total;
    struct chunked map; /* map.fd >= 0: the fast path */
    pcap_t *pcap;       /* otherwise */
    uint8_t *copy;      /* BATCH_BYTES for the libpcap path */
    bool failed;        /* a libpcap read failed after a partial batch: report it next */
    struct nfs_error failure;
};

static uint32_t
read32(const struct chunked *m, const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return m->swapped ? __builtin_bswap32(v) : v;
}

/* Reads into the chunk after the bytes not walked yet; false on a read error. */
static bool
read_more(struct chunked *m)
{
    size_t keep = m->len - m->pos;

    memmove(m->chunk, m->buf + m->pos, keep);
    m->buf = m->chunk;
    m->consumed += m->pos;
    m->len = keep;
    m->pos = m->prefetched = 0;
    while (!m->eof && m->len < CHUNK) {
        ssize_t n = read(m->fd, m->chunk + m->len, CHUNK - m->len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return false;
        m->eof = n == 0;
        m->len += (size_t)n;
    }
    return true;
}

static void
unmap_window(struct chunked *m)
{
    if (m->window == NULL)
        return;
    guard_give_back(m->guard);
    munmap(m->window, m->window_len);
    m->window = NULL;
}

/*
 * Maps the window that starts at the page of the walk position and ends on the last 2 MiB
 * boundary at most WINDOW bytes on, or at the file's end as it is now (a file still being
 * written is read as far as it goes). The record cut by the old window's end is mapped again
 * whole, so nothing is moved. Ending on 2 MiB boundaries lets the kernel map the page cache's
 * 2 MiB folios (a file read back from disk) with one entry each, not 512 page-table entries to
 * set and clear: only the start of a window, the cut record's pages, takes small pages. It placed
 * a quarter of each window in small pages before (perf: the mapping's kernel share 26 -> 22 %).
 * False when the file cannot be mapped.
 */
static bool
map_more(struct chunked *m)
{
    uint64_t start = m->consumed + m->pos, off = start & ~(uint64_t)4095, end;
    struct stat st;
    void *w;

    unmap_window(m);
    m->consumed = start; /* first: a caller falling back to read() resumes from here */
    m->pos = m->len = m->prefetched = 0;
    if (fstat(m->fd, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    end = (off + WINDOW) & ~(uint64_t)(HUGE_PAGE - 1);
    end = (uint64_t)st.st_size < end ? (uint64_t)st.st_size : end;
    m->eof = end <= start;
    if (m->eof)
        return true;
    w = mmap(NULL, end - off, PROT_READ, MAP_PRIVATE | MAP_POPULATE, m->fd, (off_t)off);
    if (w == MAP_FAILED)
        return false;
    m->guard = guard_take(w, end - off);
    if (m->guard == NULL) {
        munmap(w, end - off);
        return false;
    }
    m->window = w;
    m->window_len = end - off;
    m->buf = (uint8_t *)w + (start - off);
    m->len = end - start;
    m->eof = end == (uint64_t)st.st_size;
    return true;
}

/*
 * Brings the bytes after the walk position in: the next window of a mapped file, else the next
 * chunk read. A file that turns out not to be mappable (a pipe, some file systems) is read from
 * where the walk is. False on a read error.
 */
static bool
refill(struct chunked *m)
{
    if (m->mapping) {
        if (map_more(m))
            return true;
        m->mapping = false;
        if (lseek(m->fd, (off_t)m->consumed, SEEK_SET) < 0 && m->consumed > 0)
            return false;
        m->buf = m->chunk;
    }
    return read_more(m);
}

/* Opens path for the fast path when it is a classic pcap file; false (nothing held) otherwise. */
static bool
open_classic(struct nfs_capture *c, const char *path)
{
    struct chunked *m = &c->map;
    uint32_t magic;

    m->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (m->fd < 0)
        return false;
    posix_fadvise(m->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    m->buf = m->chunk;
    m->len = m->pos = 0;
    m->consumed = 0;
    m->eof = false;
    m->mapping = true;
    if (!refill(m) || m->len < 24)
        goto not_classic;
    memcpy(&magic, m->buf, 4);
    m->swapped = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
    m->nanoseconds = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
    if (magic != 0xa1b2c3d4 && magic != 0xd4c3b2a1 && !m->nanoseconds)
        goto not_classic;
    c->dlt = (int)(read32(m, m->buf + 20) & 0x0FFFFFFF);
    m->pos = 24;
    return true;
not_classic:
    unmap_window(m);
    close(m->fd);
    m->fd = -1;
    return false;
}

static bool
open_libpcap(struct nfs_capture *c, const char *path, struct nfs_error *err)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    struct bpf_program prog;

    c->pcap = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    if (c->pcap == NULL) {
        nfs_error_set(err, "%s: cannot read: %s", path, errbuf);
        return false;
    }
    c->dlt = pcap_datalink(c->pcap);
    if (c->bpf == NULL)
        return true;
    if (pcap_compile(c->pcap, &prog, c->bpf, 1, 0xFFFFFF00) != 0 ||
        pcap_setfilter(c->pcap, &prog) != 0) {
        nfs_error_set(err, "%s: bpf \"%s\": %s", path, c->bpf, pcap_geterr(c->pcap));
        return false;
    }
    pcap_freecode(&prog);
    return true;
}

static bool
open_current(struct nfs_capture *c, struct nfs_error *err)
{
    const char *path = c->paths[c->current];

    c->packets_in_file = 0;
    if (c->bpf == NULL && open_classic(c, path))
        return true;
    return open_libpcap(c, path, err);
}

static void
close_current(struct nfs_capture *c)
{
    if (c->map.fd >= 0) {
        c->bytes_before += c->map.consumed + c->map.len;
        unmap_window(&c->map);
        close(c->map.fd);
        c->map.fd = -1;
    }
    if (c->pcap) {
        struct stat st;

        if (stat(c->paths[c->current], &st) == 0)
            c->bytes_before += (uint64_t)st.st_size;
        pcap_close(c->pcap);
        c->pcap = NULL;
    }
}

struct nfs_capture *
nfs_capture_open_files(const char *const *paths, size_t n, const char *bpf, struct nfs_error *err)
{
    struct nfs_capture *c = calloc(1, sizeof(*c));

    if (c == NULL || n == 0) {
        nfs_error_set(err, n == 0 ? "no input file" : "out of memory");
        free(c);
        return NULL;
    }
    c->paths = paths;
    c->n = n;
    c->bpf = bpf ? strdup(bpf) : NULL;
    c->map.fd = -1;
    c->copy = malloc(BATCH_BYTES);
    c->map.chunk = aligned_alloc(4096, CHUNK);
    for (size_t i = 0; i < n; i++) {
        struct stat st;

        if (stat(paths[i], &st) == 0)
            c->bytes_total += (uint64_t)st.st_size;
    }
    if (c->copy == NULL || c->map.chunk == NULL || !open_current(c, err)) {
        if (c->copy == NULL || c->map.chunk == NULL)
            nfs_error_set(err, "out of memory");
        nfs_capture_close(c);
        return NULL;
    }
    return c;
}

void
nfs_capture_close(struct nfs_capture *c)
{
    if (c == NULL)
        return;
    close_current(c);
    free(c->bpf);
    free(c->copy);
    free(c->map.chunk);
    free(c);
}

#define BOGUS "truncated or bogus record"

/* A record that cannot be right (why): the file is cut or corrupt. */
static int
corrupt(struct nfs_capture *c, int n, const char *why, struct nfs_error *err)
{
    nfs_error_set(err, "%s: corrupt after %llu packets: %s at offset %llu", c->paths[c->current],
                  (unsigned long long)c->packets_in_file, why,
                  (unsigned long long)(c->map.consumed + c->map.pos));
    return n > 0 ? n : -1;
}

/*
 * Asks for every cache line up to PREFETCH_AHEAD bytes past the walk: the walk reads one header
 * per record and the pipeline then reads the frames' first bytes, each a miss in a mapped
 * window unless it was asked for early (the same lines once came hot from read()'s copy).
 */
static inline void
prefetch_ahead(struct chunked *m)
{
    size_t to = m->pos + PREFETCH_AHEAD < m->len ? m->pos + PREFETCH_AHEAD : m->len;

    if (m->prefetched < m->pos)
        m->prefetched = m->pos;
    for (; m->prefetched < to; m->prefetched += 64)
        __builtin_prefetch(m->buf + m->prefetched);
}

/* The fast path: walks record headers in the chunk; refills it only between batches. */
static int
next_classic(struct nfs_capture *c, struct nfs_frame *f, int max, struct nfs_error *err)
{
    struct chunked *m = &c->map;
    int n = 0;

    while (n < max) {
        const uint8_t *h = m->buf + m->pos;
        size_t left = m->len - m->pos;
        uint32_t caplen, sub;

        if (m->window != NULL && atomic_load_explicit(&m->guard->cut, memory_order_relaxed))
            return corrupt(c, n, "file cut while being read", err);
        caplen = left >= 16 ? read32(m, h + 8) : 0;

        /* Before waiting for the record's bytes: a caplen above the chunk would never fit. */
        if (caplen > MAX_CAPLEN)
            return corrupt(c, n, BOGUS, err);
        if (left < 16 || left - 16 < caplen) {
            if (n > 0 || (m->eof && left == 0))
                return n; /* refilling would move this batch's frames */
            if (m->eof || !refill(m))
                return corrupt(c, n, BOGUS, err);
            continue;
        }
        prefetch_ahead(m);
        sub = read32(m, h + 4);
        f[n++] = (struct nfs_frame){
            .dlt = c->dlt,
            .ts_us = (uint64_t)read32(m, h) * 1000000u + (m->nanoseconds ? sub / 1000 : sub),
            .cap_len = caplen,
            .wire_len = read32(m, h + 12),
            .data = h + 16,
        };
        m->pos += 16 + (size_t)caplen;
        c->packets_in_file++;
    }
    return n;
}

/* The libpcap path: copies each frame, since libpcap reuses its buffer. */
static int
next_libpcap(struct nfs_capture *c, struct nfs_frame *f, int max, struct nfs_error *err)
{
    struct pcap_pkthdr *hdr;
    const u_char *data;
    size_t used = 0;
    int n = 0, rc = 0;

    if (c->failed) {
        *err = c->failure;
        return -1;
    }
    while (n < max && used + MAX_CAPLEN <= BATCH_BYTES &&
           (rc = pcap_next_ex(c->pcap, &hdr, &data)) == 1) {
        uint32_t caplen = hdr->caplen < MAX_CAPLEN ? hdr->caplen : MAX_CAPLEN;

        memcpy(c->copy + used, data, caplen);
        f[n++] = (struct nfs_frame){
            .dlt = c->dlt,
            .ts_us = (uint64_t)hdr->ts.tv_sec * 1000000u + (uint64_t)hdr->ts.tv_usec,
            .cap_len = caplen,
            .wire_len = hdr->len,
            .data = c->copy + used,
        };
        used += caplen;
        c->packets_in_file++;
        if (n == max || used + MAX_CAPLEN > BATCH_BYTES)
            return n;
    }
    if (rc == PCAP_ERROR) {
        nfs_error_set(&c->failure, "%s: corrupt after %llu packets: %s", c->paths[c->current],
                      (unsigned long long)c->packets_in_file, pcap_geterr(c->pcap));
        c->failed = true;
    }
    if (n > 0)
        return n;
    if (c->failed)
        *err = c->failure;
    return c->failed ? -1 : 0;
}

int
nfs_capture_next_batch(struct nfs_capture *c, struct nfs_frame *f, int max, struct nfs_error *err)
{
    while (c->current < c->n) {
        int n = c->map.fd >= 0 ? next_classic(c, f, max, err) : next_libpcap(c, f, max, err);

        if (n != 0)
            return n;
        close_current(c);
        if (++c->current == c->n)
            break;
        if (!open_current(c, err))
            return -1;
    }
    return 0;
}

int
nfs_capture_next(struct nfs_capture *c, struct nfs_frame *f, struct nfs_error *err)
{
    return nfs_capture_next_batch(c, f, 1, err);
}

void
nfs_capture_progress(const struct nfs_capture *c, uint64_t *done, uint64_t *total)
{
    FILE *fp = c->pcap ? pcap_file(c->pcap) : NULL;
    long pos = fp ? ftell(fp) : 0;

    *done = c->bytes_before +
            (c->map.fd >= 0 ? c->map.consumed + c->map.pos : (pos > 0 ? (uint64_t)pos : 0));
    *total = c->bytes_total;
}
