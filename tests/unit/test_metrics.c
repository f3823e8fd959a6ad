/*
 * test_metrics.c: the text exposition format (metrics.c), the listen address (metrics_http.c),
 * the textfile's atomic replacement and the loss identities (loss.c).
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "loss.h"
#include "metrics.h"
#include "metrics_http.h"

static char *
label(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    nfs_metrics_label_value(fp, s);
    fclose(fp);
    return buf;
}

static void
test_label_escaping(void)
{
    char *a = label("plain"), *b = label("a\\b\"c\nd"), *c = label("");

    CHECK_STR(a, "plain");
    CHECK_STR(b, "a\\\\b\\\"c\\nd"); /* a\\b\"c\nd */
    CHECK_STR(c, "");
    free(a), free(b), free(c);
}

/* Every line is a comment (HELP, TYPE) or NAME{LABELS} VALUE with the name's TYPE before. */
static void
check_grammar(const char *text)
{
    char typed[64][96];
    size_t n_typed = 0;
    const char *line = text;

    while (*line) {
        const char *end = strchr(line, '\n');
        char name[96];

        CHECK(end != NULL); /* the text ends with a newline */
        if (end == NULL)
            return;
        if (strncmp(line, "# TYPE ", 7) == 0 && n_typed < 64) {
            CHECK(sscanf(line + 7, "%95s", typed[n_typed]) == 1);
            CHECK(strncmp(typed[n_typed], "nfsensor_", 9) == 0);
            n_typed++;
        } else if (line[0] != '#') {
            size_t k = strcspn(line, "{ ");
            bool known = false;

            CHECK(k < sizeof(name));
            snprintf(name, sizeof(name), "%.*s", (int)k, line);
            for (size_t i = 0; i < n_typed; i++)
                known |= strcmp(typed[i], name) == 0;
            CHECK(known);
            CHECK(line[k] == '{');
            CHECK(memchr(line, '\n', (size_t)(end - line)) == NULL);
        }
        line = end + 1;
    }
    CHECK(n_typed > 20);
}

static void
test_text(void)
{
    struct nfs_metrics_collector col = {.target = "/var/lib/x\\y\"z\n.ipfix"};
    struct nfs_metrics_interface ifs[2] = {{.name = "eth\"0", .capturing = true}, {.name = "eth1"}};
    size_t len = 0;
    char *text;

    col.s.taken = 9;
    col.s.delivered = 5;
    col.s.waiting = 4;
    col.s.state = "open";
    ifs[0].c.v[NFS_C_IPV4_FRAGMENT] = 7;
    ifs[0].c.v[NFS_C_PACKETS] = 1234567890123ull;
    ifs[0].c.v[NFS_C_FLOWS_EVICTED] = 3;
    ifs[0].collectors = &col;
    ifs[0].n_collectors = 1;
    text = nfs_metrics_text(ifs, 2, &len);
    CHECK(text != NULL && strlen(text) == len);
    check_grammar(text);
    CHECK(strstr(text, "nfsensor_ignored_packets_total{interface=\"eth\\\"0\",reason=\"ipv4."
                       "non_first_fragment\"} 7\n") != NULL);
    CHECK(strstr(text, "nfsensor_received_packets_total{interface=\"eth\\\"0\"} 1234567890123\n"));
    CHECK(strstr(text, "nfsensor_received_packets_total{interface=\"eth1\"} 0\n"));
    CHECK(
        strstr(text, "nfsensor_flows_ended_total{interface=\"eth\\\"0\",reason=\"evicted\"} 3\n"));
    CHECK(strstr(text, "nfsensor_collector_records_total{interface=\"eth\\\"0\",collector="
                       "\"/var/lib/x\\\\y\\\"z\\n.ipfix\"} 9\n"));
    CHECK(strstr(text, "nfsensor_collector_up{interface=\"eth\\\"0\",collector=") != NULL);
    CHECK(strstr(text, "nfsensor_capturing{interface=\"eth\\\"0\"} 1\n"));
    CHECK(strstr(text, "nfsensor_capturing{interface=\"eth1\"} 0\n"));
    CHECK(strstr(text, "# TYPE nfsensor_received_packets_total counter\n"));
    CHECK(strstr(text, "# TYPE nfsensor_flows_active gauge\n"));
    /* one HELP per family: the samples of a family are together */
    CHECK(strstr(strstr(text, "# HELP nfsensor_received_packets_total") + 1,
                 "# HELP nfsensor_received_packets_total") == NULL);
    free(text);
}

static void
test_counter_names(void)
{
    /* Counters end in _total, gauges do not (the format's convention). */
    size_t len = 0;
    char *text = nfs_metrics_text(NULL, 0, &len), *p = text;

    while ((p = strstr(p, "# TYPE ")) != NULL) {
        char name[96], type[16];

        CHECK(sscanf(p, "# TYPE %95s %15s", name, type) == 2);
        size_t n = strlen(name);
        bool total = n > 6 && strcmp(name + n - 6, "_total") == 0;

        CHECK(total == (strcmp(type, "counter") == 0));
        p += 7;
    }
    free(text);
}

static void
test_listen(void)
{
    struct sockaddr_storage ss;
    unsigned len;

    CHECK(nfs_metrics_parse_listen("127.0.0.1:9155", &ss, &len));
    CHECK(nfs_metrics_parse_listen("[::1]:9155", &ss, &len));
    CHECK(nfs_metrics_parse_listen("0.0.0.0:1", &ss, &len));
    CHECK(!nfs_metrics_parse_listen("localhost:9155", &ss, &len)); /* numeric only */
    CHECK(!nfs_metrics_parse_listen("127.0.0.1:0", &ss, &len));
    CHECK(!nfs_metrics_parse_listen("127.0.0.1:65536", &ss, &len));
    CHECK(!nfs_metrics_parse_listen("127.0.0.1", &ss, &len));
    CHECK(!nfs_metrics_parse_listen("::1:9155", &ss, &len)); /* IPv6 needs brackets */
    CHECK(!nfs_metrics_parse_listen("[127.0.0.1]:9155", &ss, &len));
    CHECK(!nfs_metrics_parse_listen("127.0.0.1:91x", &ss, &len));
}

static void
test_textfile(void)
{
    char dir[] = "/tmp/nfs-metrics-XXXXXX", path[64], buf[64];
    struct nfs_error err;
    struct stat st;
    FILE *fp;
    DIR *d;
    struct dirent *e;
    int entries = 0;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/nfsensor.prom", dir);
    CHECK(nfs_metrics_write_file(path, "a 1\n", 4, &err));
    CHECK(nfs_metrics_write_file(path, "b 2\n", 4, &err));
    fp = fopen(path, "r");
    CHECK(fp != NULL && fgets(buf, sizeof(buf), fp) != NULL);
    CHECK_STR(buf, "b 2\n");
    if (fp)
        fclose(fp);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
    d = opendir(dir);
    while (d && (e = readdir(d)) != NULL)
        entries += e->d_name[0] != '.';
    if (d)
        closedir(d);
    CHECK_EQ(entries, 1); /* no temporary left behind */
    snprintf(path, sizeof(path), "%s/missing/x.prom", dir);
    CHECK(!nfs_metrics_write_file(path, "a 1\n", 4, &err));
    CHECK(strstr(err.msg, "metrics.textfile") != NULL);
    snprintf(path, sizeof(path), "%s/nfsensor.prom", dir);
    unlink(path);
    rmdir(dir);
}

static void
test_identities(void)
{
    struct nfs_counters c = {0};
    struct nfs_exporter_stats s = {0};
    char why[200];

    c.v[NFS_C_KERNEL_SEEN] = 100;
    c.v[NFS_C_KERNEL_DROPPED] = 10;
    c.v[NFS_C_RING_WAITING] = 5;
    c.v[NFS_C_PACKETS] = 85;
    c.v[NFS_C_PROCESSED] = 80;
    c.v[NFS_C_LINK_TRUNCATED] = 2;
    c.v[NFS_C_IPV6_FRAGMENT] = 2;
    c.v[NFS_C_HANDOVER] = 1;
    c.v[NFS_C_FLOWS_CREATED] = 20;
    c.v[NFS_C_FLOWS_EXPORTED] = 15;
    c.v[NFS_C_FLOWS_QUEUE_FULL] = 2;
    c.v[NFS_C_FLOWS_OPEN] = 3;
    CHECK(nfs_loss_check_interface(&c, why, sizeof(why)));
    c.v[NFS_C_RING_WAITING] = 4;
    CHECK(!nfs_loss_check_interface(&c, why, sizeof(why)));
    CHECK(strstr(why, "100 != 99") != NULL);
    c.v[NFS_C_RING_WAITING] = 5;
    c.v[NFS_C_HANDOVER] = 0;
    CHECK(!nfs_loss_check_interface(&c, why, sizeof(why)));
    c.v[NFS_C_HANDOVER] = 1;
    c.v[NFS_C_FLOWS_OPEN] = 2;
    CHECK(!nfs_loss_check_interface(&c, why, sizeof(why)));
    s.taken = 10, s.delivered = 3, s.waiting = 2, s.spool_full = 2, s.send_errors = 2;
    s.undelivered = 1;
    CHECK(nfs_loss_check_collector(&s, why, sizeof(why)));
    s.undelivered = 0;
    CHECK(!nfs_loss_check_collector(&s, why, sizeof(why)));
}

int
main(void)
{
    RUN(test_label_escaping);
    RUN(test_text);
    RUN(test_counter_names);
    RUN(test_listen);
    RUN(test_textfile);
    RUN(test_identities);
    return check_exit();
}
