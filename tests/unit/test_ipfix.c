/*
 * test_ipfix.c: the IPFIX model, encoder and exporter, checked by real decoders.
 *
 * Two synthetic records (IPv4 TCP biflow with MACs; IPv6 UDP with no reverse packets) go to
 * an RFC 5655 file, which libfixbuf's ipfixDump and python3-ipfix then decode; the checks are
 * string searches in their output. A UDP export is received by a python3-ipfix listener on a
 * free loopback port. Cases whose tool is missing print "skip" and pass.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "exporter.h"
#include "ipfix.h"

#define PY "/usr/bin/python3"

static struct nfs_field_group
core_group(void)
{
    return (struct nfs_field_group){nfs_core_fields, nfs_core_fields_count};
}

static void
record_v4(struct nfs_record *r)
{
    static const uint8_t smac[6] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55};
    static const uint8_t dmac[6] = {0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};

    memset(r, 0, sizeof(*r));
    r->id = 7;
    r->ip_version = 4;
    r->protocol = 6;
    r->tunnel_id = 2;
    r->vlan_id = 42;
    r->end_reason = NFS_END_OF_FLOW;
    inet_pton(AF_INET, "192.0.2.1", r->src_ip.b);
    inet_pton(AF_INET, "198.51.100.2", r->dst_ip.b);
    r->src_port = 40001;
    r->dst_port = 443;
    memcpy(r->src_mac, smac, 6);
    memcpy(r->dst_mac, dmac, 6);
    r->src2dst = (struct nfs_record_dir){.first_seen_ms = 1700000000123ull,
                                         .last_seen_ms = 1700000004567ull,
                                         .packets = 11,
                                         .bytes = 1111,
                                         .ip_octets = 1551,
                                         .tcp_flags = 0x1b};
    r->dst2src = (struct nfs_record_dir){.first_seen_ms = 1700000000200ull,
                                         .last_seen_ms = 1700000004500ull,
                                         .packets = 9,
                                         .bytes = 9999,
                                         .ip_octets = 10359,
                                         .tcp_flags = 0x12};
}

static void
record_v6(struct nfs_record *r)
{
    memset(r, 0, sizeof(*r));
    r->id = 8;
    r->ip_version = 6;
    r->protocol = 17;
    r->end_reason = NFS_END_IDLE;
    inet_pton(AF_INET6, "2001:db8::1", r->src_ip.b);
    inet_pton(AF_INET6, "2001:db8:ffff::53", r->dst_ip.b);
    r->src_port = 5353;
    r->dst_port = 53;
    r->src2dst = (struct nfs_record_dir){.first_seen_ms = 1700000100000ull,
                                         .last_seen_ms = 1700000100000ull,
                                         .packets = 1,
                                         .bytes = 77,
                                         .ip_octets = 125};
}

static char tmpdir[64];

static const char *
tmp_path(const char *name)
{
    static char buf[4][128];
    static unsigned next;
    char *p = buf[next++ % 4];

    snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
    return p;
}

/* Runs cmd and returns its whole standard output (caller frees), or NULL. */
static char *
run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    size_t n = 0, cap = 4096;
    char *out = malloc(cap);

    if (p == NULL || out == NULL) {
        free(out);
        return NULL;
    }
    for (size_t got; (got = fread(out + n, 1, cap - n - 1, p)) > 0;) {
        n += got;
        if (cap - n < 1024)
            out = realloc(out, cap *= 2);
    }
    out[n] = '\0';
    pclose(p);
    return out;
}

static bool
have(const char *tool)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
    if (system(cmd) == 0)
        return true;
    printf("skip: %s not installed\n", tool);
    return false;
}

static bool
have_python_ipfix(void)
{
    if (access(PY, X_OK) == 0 && system(PY " -c 'import ipfix' 2>/dev/null") == 0)
        return true;
    printf("skip: " PY " with python3-ipfix not installed\n");
    return false;
}

/* Fails the check, printing the tool output, when needle is missing. */
#define CHECK_HAS(out, needle)                                                                     \
    do {                                                                                           \
        if (strstr((out), (needle)) == NULL) {                                                     \
            fprintf(stderr, "%s:%d: missing \"%s\"\n", __FILE__, __LINE__, (needle));              \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

/* Writes the two records to path; rfc5610 as the option. */
static bool
export_file(const char *path, bool rfc5610)
{
    struct nfs_exporter_options o;
    struct nfs_exporter_stats st;
    struct nfs_error err = {{0}};
    struct nfs_exporter *exp;
    struct nfs_record r4, r6;

    nfs_exporter_options_default(&o);
    o.rfc5610 = rfc5610;
    exp = nfs_exporter_create(&o, &err);
    CHECK(exp != NULL);
    if (exp == NULL) {
        fprintf(stderr, "%s\n", err.msg);
        return false;
    }
    CHECK(nfs_exporter_add(exp, path, &err));
    record_v4(&r4);
    record_v6(&r6);
    CHECK(nfs_exporter_export(exp, &r4, &err));
    CHECK(nfs_exporter_export(exp, &r6, &err));
    CHECK(nfs_exporter_get_stats(exp, 0, &st));
    CHECK_EQ(st.records, 2);
    CHECK_EQ(st.errors, 0);
    CHECK(!nfs_exporter_get_stats(exp, 1, &st));
    CHECK(nfs_exporter_close(exp, &err));
    return check_failures == 0;
}

/* Every IANA and reverse element of both templates, with the value ipfixDump prints. */
static const char *const dump_v4[] = {
    "flowId : 7",
    "sourceIPv4Address : 192.0.2.1",
    "sourceMacAddress : 00:11:22:33:44:55",
    "sourceTransportPort : 40001",
    "destinationIPv4Address : 198.51.100.2",
    "destinationMacAddress : 66:77:88:99:aa:bb",
    "destinationTransportPort : 443",
    "protocolIdentifier : 6",
    "ipVersion : 4",
    "vlanId : 42",
    "flowStartMilliseconds : 2023-11-14 22:13:20.123",
    "flowEndMilliseconds : 2023-11-14 22:13:24.567",
    "packetDeltaCount : 11",
    "octetDeltaCount : 1551",
    "tcpControlBits : 27",
    "reverseFlowStartMilliseconds : 2023-11-14 22:13:20.200",
    "reverseFlowEndMilliseconds : 2023-11-14 22:13:24.500",
    "reversePacketDeltaCount : 9",
    "reverseOctetDeltaCount : 10359",
    "reverseTcpControlBits : 18",
    "flowEndReason : 3",
};

static const char *const dump_v6[] = {
    "flowId : 8",
    "sourceIPv6Address : 2001:0db8::0001",
    "destinationIPv6Address : 2001:0db8:ffff::0053",
    "sourceTransportPort : 5353",
    "destinationTransportPort : 53",
    "protocolIdentifier : 17",
    "ipVersion : 6",
    "flowStartMilliseconds : 2023-11-14 22:15:00.000",
    "packetDeltaCount : 1",
    "octetDeltaCount : 125",
    "reversePacketDeltaCount : 0",
    "flowEndReason : 1",
};

/* The enterprise elements, by name, with their values in the IPv4 record. */
static const char *const dump_own[] = {
    "(32473/1001)                    tunnelId : 2",
    "(32473/1002)    accountedOctetDeltaCount : 1111",
    "(32473/1003)reverseAccountedOctetDeltaCount : 9999",
};

/* ipfixDump pads names to a column; squeeze runs of spaces so checks read "name : value". */
static void
squeeze(char *s)
{
    char *w = s;

    for (char *r = s; *r != '\0'; r++)
        if (!(*r == ' ' && w > s && w[-1] == ' '))
            *w++ = *r;
    *w = '\0';
}

static void
check_dump(char *out)
{
    for (size_t i = 0; i < NFS_NITEMS(dump_own); i++)
        CHECK_HAS(out, dump_own[i]);
    squeeze(out);
    for (size_t i = 0; i < NFS_NITEMS(dump_v4); i++)
        CHECK_HAS(out, dump_v4[i]);
    for (size_t i = 0; i < NFS_NITEMS(dump_v6); i++)
        CHECK_HAS(out, dump_v6[i]);
    CHECK(strstr(out, "_alienInformationElement") == NULL);
}

static void
test_model_layout_matches_table(void)
{
    struct nfs_field_group g = core_group();
    struct nfs_error err = {{0}};
    struct nfs_ipfix_model *m = nfs_ipfix_model_create(&g, 1, NFS_PEN_DEFAULT, &err);
    size_t want4 = 0, want6 = 0;
    struct nfs_record r;
    const void *values[1] = {&r};
    uint8_t buf[512];
    uint32_t v4;

    CHECK(m != NULL);
    if (m == NULL)
        return;
    for (size_t i = 0; i < nfs_core_fields_count; i++) {
        const struct nfs_field *f = &nfs_core_fields[i];
        if (f->id == 0)
            continue;
        want4 += nfs_field_applies(f, 4) ? nfs_field_wire_size(f) : 0;
        want6 += nfs_field_applies(f, 6) ? nfs_field_wire_size(f) : 0;
    }
    CHECK_EQ(nfs_ipfix_record_size(m, 4), want4);
    CHECK_EQ(nfs_ipfix_record_size(m, 6), want6);
    CHECK_EQ(nfs_ipfix_record_size(m, 5), 0);
    CHECK_EQ(nfs_ipfix_template_id(4), 0x0101);
    CHECK_EQ(nfs_ipfix_template_id(6), 0x0102);
    record_v4(&r);
    CHECK_EQ(nfs_ipfix_encode(m, 4, values, buf, sizeof(buf)), want4);
    CHECK_EQ(nfs_ipfix_encode(m, 4, values, buf, want4 - 1), 0);
    /* flowId (8 bytes) first, then sourceIPv4Address as a host-order uint32 */
    memcpy(&v4, buf + 8, 4);
    CHECK_EQ(v4, 0xC0000201u);
    nfs_ipfix_model_destroy(m);
}

static void
expect_model_error(const struct nfs_field *fields, size_t n, uint32_t pen, const char *msg)
{
    struct nfs_field_group g = {fields, n};
    struct nfs_error err = {{0}};
    struct nfs_ipfix_model *m = nfs_ipfix_model_create(&g, 1, pen, &err);

    CHECK(m == NULL);
    nfs_ipfix_model_destroy(m);
    if (strstr(err.msg, msg) == NULL) {
        fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err.msg, msg);
        check_failures++;
    }
}

struct strrec {
    char name[16];
    uint32_t n;
};

static void
test_model_rejects_bad_tables(void)
{
    static const struct nfs_field wrong_name[] = {
        {"packetCount", NFS_PEN_IANA, 2, NFS_T_U64, NFS_AT(id), NULL, 0, ""},
    };
    static const struct nfs_field wrong_size[] = {
        {"packetDeltaCount", NFS_PEN_IANA, 2, NFS_T_U32, NFS_AT(id), NULL, 0, ""},
    };
    static const struct nfs_field string_first[] = {
        {"testName", NFS_PEN_OWN, 1500, NFS_T_STRING, offsetof(struct strrec, name), 16, NULL, 0,
         ""},
        {"testCount", NFS_PEN_OWN, 1501, NFS_T_U32, offsetof(struct strrec, n), 4, NULL, 0, ""},
    };
    static const struct nfs_field oui[] = {
        {"sourceOui", NFS_PEN_OWN, 1502, NFS_T_OUI, NFS_AT(src_mac), NULL, 0, ""},
    };
    static const struct nfs_field odd_list[] = {
        {"testCount", NFS_PEN_OWN, 1501, NFS_T_U32, offsetof(struct strrec, n), 4, NULL, 0, ""},
        {"testList", NFS_PEN_OWN, 1503, NFS_T_LIST_I32, offsetof(struct strrec, name), 6, NULL, 0,
         ""},
    };

    expect_model_error(wrong_name, 1, NFS_PEN_DEFAULT,
                       "packetCount: element 0/2 is packetDeltaCount");
    expect_model_error(wrong_size, 1, NFS_PEN_DEFAULT, "packetDeltaCount: 8 bytes");
    expect_model_error(string_first, 2, NFS_PEN_DEFAULT, "first element is variable-length");
    expect_model_error(oui, 1, NFS_PEN_DEFAULT, "sourceOui: type");
    expect_model_error(odd_list, 2, NFS_PEN_DEFAULT, "testList: a list of 6 bytes");
    expect_model_error(nfs_core_fields, nfs_core_fields_count, NFS_PEN_REVERSE, "reserved");
}

/* A plugin-style second group with a string: encoded as an fbVarfield_t, named by RFC 5610. */
static void
test_second_group_with_string(void)
{
    static const struct nfs_field extra[] = {
        {"testCount", NFS_PEN_OWN, 1501, NFS_T_U32, offsetof(struct strrec, n), 4, NULL, 0,
         "a test counter"},
        {"testName", NFS_PEN_OWN, 1500, NFS_T_STRING, offsetof(struct strrec, name), 16, NULL, 0,
         "a test string"},
    };
    struct nfs_field_group groups[2] = {core_group(), {extra, NFS_NITEMS(extra)}};
    struct nfs_exporter_options o;
    struct nfs_error err = {{0}};
    struct nfs_exporter *exp;
    struct nfs_record r;
    struct strrec x = {"hello.example", 4242};
    const void *values[2] = {&r, &x};
    const char *path = tmp_path("strings.ipfix");
    char cmd[512], *out;

    nfs_exporter_options_default(&o);
    o.groups = groups;
    o.n_groups = 2;
    exp = nfs_exporter_create(&o, &err);
    CHECK(exp != NULL);
    if (exp == NULL)
        return;
    record_v4(&r);
    CHECK(nfs_exporter_add(exp, path, &err));
    CHECK(nfs_exporter_export_values(exp, 4, values, &err));
    CHECK(nfs_exporter_export(exp, &r, &err)); /* group 1 as zeros */
    CHECK(nfs_exporter_close(exp, &err));
    if (!have("ipfixDump"))
        return;
    snprintf(cmd, sizeof(cmd), "ipfixDump --rfc5610 -i %s 2>&1", path);
    out = run(cmd);
    CHECK(out != NULL);
    if (out == NULL)
        return;
    squeeze(out);
    CHECK_HAS(out, "testName : (len: 13) hello.example");
    CHECK_HAS(out, "testCount : 4242");
    CHECK_HAS(out, "testName : (len: 0)");
    CHECK_HAS(out, "sourceIPv4Address : 192.0.2.1");
    free(out);
}

struct listrec {
    int64_t gaps[3];
    int32_t sizes[3];
    int32_t small;
    int64_t big;
    int8_t dirs[2];
};

#define LISTREC(m) offsetof(struct listrec, m), sizeof(((struct listrec *)0)->m)

/* RFC 6313 basicLists of signed8/32/64 items and signed scalars, named by RFC 5610; a group
 * without values gives empty lists. */
static void
test_second_group_with_lists(void)
{
    static const struct nfs_field extra[] = {
        {"testSmall", NFS_PEN_OWN, 1510, NFS_T_I32, LISTREC(small), NULL, 0, "signed32"},
        {"testDirs", NFS_PEN_OWN, 1511, NFS_T_LIST_I8, LISTREC(dirs), NULL, 0, "signed8 items"},
        {"testSizes", NFS_PEN_OWN, 1512, NFS_T_LIST_I32, LISTREC(sizes), NULL, 0, "signed32s"},
        {"testGaps", NFS_PEN_OWN, 1513, NFS_T_LIST_I64, LISTREC(gaps), NULL, 0, "signed64s"},
        {"testBig", NFS_PEN_OWN, 1514, NFS_T_I64, LISTREC(big), NULL, 0, "signed64"},
    };
    struct nfs_field_group groups[2] = {core_group(), {extra, NFS_NITEMS(extra)}};
    struct nfs_exporter_options o;
    struct nfs_error err = {{0}};
    struct nfs_exporter *exp;
    struct nfs_record r;
    struct listrec x = {{0, 70000, -1}, {1500, -1, -1}, -5, -5000000000, {1, -1}};
    const void *values[2] = {&r, &x};
    const char *path = tmp_path("lists.ipfix");
    char cmd[512], text[64], *out;

    CHECK_STR(nfs_field_format(&extra[3], &x, text, sizeof(text)), "[0, 70000, -1]");
    CHECK_STR(nfs_field_format(&extra[1], &x, text, sizeof(text)), "[1, -1]");
    CHECK_STR(nfs_field_format(&extra[2], &x, text, 8), "[1500, "); /* cut, terminated */
    CHECK_STR(nfs_field_format(&extra[4], &x, text, sizeof(text)), "-5000000000");
    CHECK(nfs_field_is_text(&extra[2]) && !nfs_field_is_text(&extra[0]));
    nfs_exporter_options_default(&o);
    o.groups = groups;
    o.n_groups = 2;
    exp = nfs_exporter_create(&o, &err);
    CHECK(exp != NULL);
    if (exp == NULL)
        return;
    record_v4(&r);
    CHECK(nfs_exporter_add(exp, path, &err));
    CHECK(nfs_exporter_export_values(exp, 4, values, &err));
    CHECK(nfs_exporter_export(exp, &r, &err)); /* group 1 absent: empty lists */
    CHECK(nfs_exporter_close(exp, &err));
    if (!have("ipfixDump"))
        return;
    snprintf(cmd, sizeof(cmd), "ipfixDump --rfc5610 -i %s 2>&1", path);
    out = run(cmd);
    CHECK(out != NULL);
    if (out == NULL)
        return;
    squeeze(out);
    CHECK_HAS(out, "testSmall : -5");
    CHECK_HAS(out, "testBig : -5000000000");
    CHECK_HAS(out, "count: 2 semantic: 4-ordered ie: (32473/1511) testDirs\n\t\t\t1 : 1\n"
                   "\t\t\t2 : -1");
    CHECK_HAS(out, "ie: (32473/1512) testSizes\n\t\t\t1 : 1500\n\t\t\t2 : -1\n\t\t\t3 : -1");
    CHECK_HAS(out, "ie: (32473/1513) testGaps\n\t\t\t1 : 0\n\t\t\t2 : 70000\n\t\t\t3 : -1");
    CHECK_HAS(out, "count: 0 semantic: 4-ordered ie: (32473/1513) testGaps");
    free(out);
}

static void
test_file_decoded_by_ipfixdump(void)
{
    const char *path = tmp_path("rfc5610.ipfix");
    char cmd[512], *out;

    if (!export_file(path, true) || !have("ipfixDump"))
        return;
    snprintf(cmd, sizeof(cmd), "ipfixDump --rfc5610 -i %s 2>&1", path);
    out = run(cmd);
    CHECK(out != NULL);
    if (out == NULL)
        return;
    check_dump(out);
    free(out);
}

static void
test_element_file_names_elements(void)
{
    struct nfs_field_group g = core_group();
    const char *path = tmp_path("plain.ipfix"), *xml = tmp_path("nfsensor.xml");
    struct nfs_error err = {{0}};
    char cmd[512], *out;
    FILE *f;

    if (!export_file(path, false))
        return;
    f = fopen(xml, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK(nfs_ipfix_write_element_xml(f, &g, 1, NFS_PEN_DEFAULT, &err));
    fclose(f);
    if (!have("ipfixDump"))
        return;
    /* Without RFC 5610 records and without the file, the enterprise elements are unnamed. */
    snprintf(cmd, sizeof(cmd), "ipfixDump --rfc5610 -i %s 2>&1", path);
    out = run(cmd);
    CHECK(out != NULL && strstr(out, "_alienInformationElement") != NULL);
    free(out);
    snprintf(cmd, sizeof(cmd), "ipfixDump -e %s -i %s 2>&1", xml, path);
    out = run(cmd);
    CHECK(out != NULL);
    if (out == NULL)
        return;
    check_dump(out);
    free(out);
}

static const char py_file[] =
    PY " - %s <<'EOF'\n"
       "import sys, ipfix.ie, ipfix.reader\n"
       "ipfix.ie.use_iana_default(); ipfix.ie.use_5103_default()\n"
       "for rec in ipfix.reader.from_stream(open(sys.argv[1], 'rb')).namedict_iterator():\n"
       "    if 'flowId' in rec:\n"
       "        src = rec.get('sourceIPv4Address', rec.get('sourceIPv6Address'))\n"
       "        dst = rec.get('destinationIPv4Address', rec.get('destinationIPv6Address'))\n"
       "        print('flow %%s %%s %%s %%s rev %%s' %% (src, dst, rec['packetDeltaCount'],\n"
       "              rec['octetDeltaCount'], rec['reversePacketDeltaCount']))\n"
       "EOF\n";

static void
test_file_decoded_by_python_ipfix(void)
{
    const char *path = tmp_path("python.ipfix");
    char cmd[1024], *out;

    if (!export_file(path, true) || !have_python_ipfix())
        return;
    snprintf(cmd, sizeof(cmd), py_file, path);
    out = run(cmd);
    CHECK(out != NULL);
    if (out == NULL)
        return;
    CHECK_HAS(out, "flow 192.0.2.1 198.51.100.2 11 1551 rev 9\n");
    CHECK_HAS(out, "flow 2001:db8::1 2001:db8:ffff::53 1 125 rev 0\n");
    free(out);
}

/* A python3-ipfix collector on a free loopback port: prints the port, then one line per flow
 * record and per template set carrying template 257 ("tmpl"), until EOF (TCP) or 3 s of
 * silence (UDP). */
static const char py_collector[] =
    PY " -u - %s <<'EOF'\n"
       "import socket, struct, sys, ipfix.ie, ipfix.message, ipfix.reader\n"
       "ipfix.ie.use_iana_default(); ipfix.ie.use_5103_default()\n"
       "flows = 0\n"
       "def show(rec):\n"
       "    global flows\n"
       "    if 'flowId' in rec:\n"
       "        src = rec.get('sourceIPv4Address', rec.get('sourceIPv6Address'))\n"
       "        print('flow', src, rec['packetDeltaCount'])\n"
       "        flows += 1\n"
       "def templates(msg):\n"
       "    off = 16\n"
       "    while off + 4 <= len(msg):\n"
       "        sid, slen = struct.unpack('!HH', msg[off:off + 4])\n"
       "        if sid == 2 and struct.unpack('!H', msg[off + 4:off + 6])[0] == 257:\n"
       "            print('tmpl')\n"
       "        off += max(slen, 4)\n"
       "tcp = sys.argv[1] == 'tcp'\n"
       "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)\n"
       "s.bind(('127.0.0.1', 0))\n"
       "if tcp: s.listen(1)\n"
       "print(s.getsockname()[1])\n"
       "s.settimeout(10 if tcp else 3)\n"
       "if tcp:\n"
       "    c, _ = s.accept()\n"
       "    for rec in ipfix.reader.from_stream(c.makefile('rb')).namedict_iterator(): show(rec)\n"
       "    sys.exit(0)\n"
       "buf = ipfix.message.MessageBuffer()\n"
       "try:\n"
       "    while flows < 2:\n"
       "        data = s.recv(65535)\n"
       "        templates(data)\n"
       "        buf.from_bytes(data)\n"
       "        for rec in buf.namedict_iterator(): show(rec)\n"
       "except socket.timeout:\n"
       "    pass\n"
       "EOF\n";

/* Starts the collector; returns its pipe and fills port, or NULL. */
static FILE *
collector_start(const char *proto, char *port, size_t size)
{
    char cmd[4096];
    FILE *p;

    snprintf(cmd, sizeof(cmd), py_collector, proto);
    p = popen(cmd, "r");
    if (p == NULL)
        return NULL;
    if (fgets(port, (int)size, p) == NULL) {
        pclose(p);
        return NULL;
    }
    port[strcspn(port, "\n")] = '\0';
    return p;
}

static char *
collector_output(FILE *p)
{
    size_t n = 0, cap = 8192;
    char *out = calloc(1, cap);

    for (size_t got; out != NULL && (got = fread(out + n, 1, cap - n - 1, p)) > 0;)
        n += got;
    pclose(p);
    return out;
}

static size_t
count(const char *s, const char *needle)
{
    size_t n = 0;

    for (; (s = strstr(s, needle)) != NULL; s += strlen(needle))
        n++;
    return n;
}

static void
export_net(const char *proto, uint32_t refresh_s, bool pause)
{
    struct nfs_exporter_options o;
    struct nfs_error err = {{0}};
    struct nfs_exporter *exp;
    struct nfs_record r4, r6;
    char port[32], target[64], *out;
    FILE *p;

    if (!have_python_ipfix())
        return;
    p = collector_start(proto, port, sizeof(port));
    CHECK(p != NULL);
    if (p == NULL)
        return;
    nfs_exporter_options_default(&o);
    o.template_refresh_s = refresh_s;
    exp = nfs_exporter_create(&o, &err);
    snprintf(target, sizeof(target), "%s://127.0.0.1:%s", proto, port);
    CHECK(exp != NULL && nfs_exporter_add(exp, target, &err));
    record_v4(&r4);
    record_v6(&r6);
    CHECK(nfs_exporter_export(exp, &r4, &err));
    if (pause) {
        CHECK(nfs_exporter_flush(exp, &err));
        usleep(1100 * 1000);
    }
    CHECK(nfs_exporter_export(exp, &r6, &err));
    CHECK(nfs_exporter_close(exp, &err));
    out = collector_output(p);
    CHECK(out != NULL);
    if (out == NULL)
        return;
    CHECK_HAS(out, "flow 192.0.2.1 11\n");
    CHECK_HAS(out, "flow 2001:db8::1 1\n");
    if (strcmp(proto, "udp") == 0)
        CHECK_EQ(count(out, "tmpl\n"), pause ? 2 : 1);
    free(out);
}

static void
test_udp_export_arrives(void)
{
    export_net("udp", 600, false);
}

static void
test_udp_templates_refreshed(void)
{
    export_net("udp", 1, true);
}

static void
test_tcp_export_arrives(void)
{
    export_net("tcp", 600, false);
}

/* A port nothing listens on: bound, never listened to, closed. */
static unsigned
closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return 9;
    close(fd);
    return ntohs(a.sin_port);
}

/* "udp://[::1]:PORT" of a UDP socket that stays bound, so sends are not refused. */
static bool
udp6_port(char *target, size_t size)
{
    static int fd = -1;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    socklen_t len = sizeof(a);

    if (fd < 0 && (fd = socket(AF_INET6, SOCK_DGRAM, 0)) >= 0 &&
        bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        fd = -1;
    }
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        printf("skip: no IPv6 loopback\n");
        return false;
    }
    snprintf(target, size, "udp://[::1]:%u", ntohs(a.sin6_port));
    return true;
}

static void
expect_add_error(struct nfs_exporter *exp, const char *target, const char *msg)
{
    struct nfs_error err = {{0}};

    CHECK(!nfs_exporter_add(exp, target, &err));
    printf("  %s\n", err.msg);
    if (strstr(err.msg, target) == NULL || strstr(err.msg, msg) == NULL) {
        fprintf(stderr, "error \"%s\" lacks \"%s\" or \"%s\"\n", err.msg, target, msg);
        check_failures++;
    }
}

static void
test_bad_targets_fail_at_add(void)
{
    struct nfs_error err = {{0}};
    struct nfs_exporter *exp = nfs_exporter_create(NULL, &err);
    char target[64];

    CHECK(exp != NULL);
    if (exp == NULL)
        return;
    snprintf(target, sizeof(target), "tcp://127.0.0.1:%u", closed_port());
    expect_add_error(exp, target, "");
    expect_add_error(exp, "udp://::1:4739", "[ADDR]:PORT");
    expect_add_error(exp, "udp://[::1]4739", "HOST:PORT");
    expect_add_error(exp, "udp://host:port", "HOST:PORT");
    expect_add_error(exp, "sctp://127.0.0.1:4739", "unknown scheme");
    expect_add_error(exp, "/nonexistent-dir/x.ipfix", "");
    CHECK_EQ(nfs_exporter_target_count(exp), 0);
    if (udp6_port(target, sizeof(target))) {
        CHECK(nfs_exporter_add(exp, target, &err));
        CHECK_EQ(nfs_exporter_target_count(exp), 1);
    }
    CHECK(nfs_exporter_close(exp, &err));
    CHECK(nfs_exporter_close(NULL, &err));
}

int
main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ipfix.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_model_layout_matches_table);
    RUN(test_model_rejects_bad_tables);
    RUN(test_second_group_with_string);
    RUN(test_second_group_with_lists);
    RUN(test_file_decoded_by_ipfixdump);
    RUN(test_element_file_names_elements);
    RUN(test_file_decoded_by_python_ipfix);
    RUN(test_udp_export_arrives);
    RUN(test_udp_templates_refreshed);
    RUN(test_tcp_export_arrives);
    RUN(test_bad_targets_fail_at_add);
    if (check_failed_cases == 0) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    return check_exit();
}
