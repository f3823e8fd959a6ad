/*
 * nfs-elements.c: writes nfsensor's IPFIX element definitions, generated from the code.
 *
 *   nfs-elements [--xml FILE] [--markdown FILE] [--pmacct FILE] [--enterprise-number N]
 *                                                                          (FILE "-": stdout)
 *
 * The element set is the core field table plus every built-in plugin's, joined as a plugin set
 * with each plugin's default options, exactly as the daemon would join them (so a clash between
 * built-ins fails here too). --xml writes the element-definition file in the IANA registry XML
 * format (lib/ipfix.c's nfs_ipfix_write_element_xml, as /usr/share/libfixbuf/cert_ipfix.xml),
 * which ipfixDump -e and other libfixbuf collectors read when a stream carries no RFC 5610
 * type records. --markdown writes docs/elements.md: every IPFIX element with its type,
 * semantics and units. Those are read back from libfixbuf after loading the generated XML into
 * its information model, so the table shows what a collector will see, and an element the XML
 * fails to define is an error. A test keeps docs/elements.md equal to this output.
 * --pmacct writes a pmacct aggregate_primitives file (nfacctd) naming the enterprise elements
 * of the default configuration (the core, dpi and community_id), by CSV column where there is
 * one: integers as u_int of their size, strings as variable-length str, floats as raw.
 * Lists and the optional plugins' dozens of elements are left out (nfacctd 1.7.7 fails with
 * more than about 56 custom primitives; docs/collectors.md says how to add some).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ipfix.h"
#include "plugin_set.h"

/* Registry names of libfixbuf's data types (RFC 7012 5.1), semantics (5.2) and units (IANA). */
static const char *const type_names[] = {
    [FB_OCTET_ARRAY] = "octetArray",
    [FB_UINT_8] = "unsigned8",
    [FB_UINT_16] = "unsigned16",
    [FB_UINT_32] = "unsigned32",
    [FB_UINT_64] = "unsigned64",
    [FB_INT_8] = "signed8",
    [FB_INT_16] = "signed16",
    [FB_INT_32] = "signed32",
    [FB_INT_64] = "signed64",
    [FB_FLOAT_32] = "float32",
    [FB_FLOAT_64] = "float64",
    [FB_BOOL] = "boolean",
    [FB_MAC_ADDR] = "macAddress",
    [FB_STRING] = "string",
    [FB_DT_SEC] = "dateTimeSeconds",
    [FB_DT_MILSEC] = "dateTimeMilliseconds",
    [FB_DT_MICROSEC] = "dateTimeMicroseconds",
    [FB_DT_NANOSEC] = "dateTimeNanoseconds",
    [FB_IP4_ADDR] = "ipv4Address",
    [FB_IP6_ADDR] = "ipv6Address",
    [FB_BASIC_LIST] = "basicList",
    [FB_SUB_TMPL_LIST] = "subTemplateList",
    [FB_SUB_TMPL_MULTI_LIST] = "subTemplateMultiList",
};
static const char *const semantic_names[] = {
    "default", "quantity", "totalCounter", "deltaCounter", "identifier", "flags", "list",
};
static const char *const unit_names[] = {
    "",         "bits",         "octets",       "packets",     "flows",
    "seconds",  "milliseconds", "microseconds", "nanoseconds", "4-octet words",
    "messages", "hops",         "entries",      "frames",      "ports",
    "inferred",
};

static const char *
name_in(const char *const *names, size_t n, unsigned i)
{
    return i < n && names[i] != NULL ? names[i] : "?";
}

/* The core and every built-in plugin with its default options, as one plugin set. */
static struct nfs_plugin_set *
all_builtins(struct nfs_error *err)
{
    struct nfs_plugin_set *set = nfs_plugin_set_create();

    for (size_t i = 0; set != NULL && nfs_builtin_plugins[i] != NULL; i++) {
        const struct nfs_plugin *p = nfs_builtin_plugins[i];
        void *conf = calloc(1, p->conf_size ? p->conf_size : 1);
        bool ok = conf != NULL && nfs_plugin_conf_defaults(p, conf, err) &&
                  nfs_plugin_set_add(set, p, conf, err);

        free(conf);
        if (!ok) {
            nfs_plugin_set_destroy(set);
            return NULL;
        }
    }
    if (set == NULL)
        nfs_error_set(err, "out of memory");
    return set;
}

/* The element XML in memory; NULL and err on failure. */
static char *
element_xml(const struct nfs_field_group *groups, size_t n, uint32_t pen, size_t *len,
            struct nfs_error *err)
{
    char *buf = NULL;
    FILE *mem = open_memstream(&buf, len);

    if (mem == NULL) {
        nfs_error_set(err, "open_memstream: %s", strerror(errno));
        return NULL;
    }
    if (!nfs_ipfix_write_element_xml(mem, groups, n, pen, err)) {
        fclose(mem);
        free(buf);
        return NULL;
    }
    fclose(mem);
    return buf;
}

static bool
write_file(const char *path, const char *text, size_t len, struct nfs_error *err)
{
    FILE *out = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    bool ok;

    if (out == NULL) {
        nfs_error_set(err, "%s: %s", path, strerror(errno));
        return false;
    }
    ok = fwrite(text, 1, len, out) == len;
    ok = (out == stdout ? fflush(out) == 0 : fclose(out) == 0) && ok;
    if (!ok)
        nfs_error_set(err, "%s: write failed", path);
    return ok;
}

/* Who adds group g: the core, or plugin g - 1. */
static const char *
group_owner(const struct nfs_plugin_set *set, size_t g)
{
    return g == 0 ? "core" : nfs_plugin_set_plugin(set, g - 1)->name;
}

/* The enterprise id range each group uses, so the blocks stay documented. */
static void
markdown_blocks(FILE *out, const struct nfs_plugin_set *set)
{
    const struct nfs_field_group *groups = nfs_plugin_set_groups(set);

    fputs("| added by | enterprise ids |\n|---|---|\n", out);
    for (size_t g = 0; g <= nfs_plugin_set_count(set); g++) {
        unsigned lo = UINT16_MAX, hi = 0;

        for (size_t i = 0; i < groups[g].n_fields; i++) {
            const struct nfs_field *f = &groups[g].fields[i];

            if (f->id != 0 && f->pen == NFS_PEN_OWN) {
                lo = f->id < lo ? f->id : lo;
                hi = f->id > hi ? f->id : hi;
            }
        }
        if (hi != 0)
            fprintf(out, "| %s | %u-%u |\n", group_owner(set, g), lo, hi);
    }
}

/* A table cell: a '|' would end it. */
static void
cell(FILE *out, const char *text)
{
    for (; text != NULL && *text != '\0'; text++) {
        if (*text == '|')
            fputc('\\', out);
        fputc(*text, out);
    }
}

static bool
markdown_row(FILE *out, fbInfoModel_t *model, const struct nfs_field *f, uint32_t pen,
             const char *owner, struct nfs_error *err)
{
    uint32_t ent = f->pen == NFS_PEN_OWN ? pen : f->pen;
    const fbInfoElement_t *ie = fbInfoModelGetElementByID(model, f->id, ent);

    if (ie == NULL) {
        nfs_error_set(err, "%s (%u/%u): not in libfixbuf's model with the element file loaded",
                      f->name, ent, f->id);
        return false;
    }
    fprintf(out, "| %s | %s | %u | %s | %s | %s | %s | %s | ",
            f->pen == NFS_PEN_OWN    ? "own"
            : f->pen == NFS_PEN_IANA ? "IANA"
                                     : "29305 (reverse)",
            ie->ref.name, f->id, name_in(type_names, NFS_NITEMS(type_names), ie->type),
            name_in(semantic_names, NFS_NITEMS(semantic_names), FB_IE_SEMANTIC(ie->flags)),
            name_in(unit_names, NFS_NITEMS(unit_names), FB_IE_UNITS(ie->flags)), owner,
            f->csv ? f->csv : "-");
    cell(out, f->doc);
    fputs(" |\n", out);
    return true;
}

static bool
markdown(FILE *out, fbInfoModel_t *model, const struct nfs_plugin_set *set, uint32_t pen,
         struct nfs_error *err)
{
    const struct nfs_field_group *groups = nfs_plugin_set_groups(set);

    fprintf(out,
            "# IPFIX elements\n\n"
            "Generated by `tools/nfs-elements.c` from the field tables of the core and of "
            "every built-in\nplugin (`build/tools/nfs-elements --markdown docs/elements.md`); "
            "do not edit. A test keeps this\nfile equal to the code. The same build writes "
            "the element-definition file\n`build/tools/nfsensor-elements.xml` (IANA registry "
            "XML, for `ipfixDump -e` and collectors that\nread libfixbuf's format) for "
            "streams without RFC 5610 type records.\n\n"
            "PEN \"own\" is nfsensor's enterprise number: `--enterprise-number`, default "
            "%u (RFC 5612's\ndocumentation PEN). Enterprise ids never change meaning; each "
            "built-in keeps to its block:\n\n",
            pen);
    markdown_blocks(out, set);
    fputs("\nType, semantics and units are as libfixbuf reads them from the element file (its "
          "IANA model\nfor IANA and reverse elements). Only IPFIX elements are listed; "
          "CSV-only columns are in\n[fields.md](fields.md).\n\n"
          "| PEN | name | id | type | semantics | units | added by | CSV column | description "
          "|\n|---|---|---|---|---|---|---|---|---|\n",
          out);
    for (size_t g = 0; g <= nfs_plugin_set_count(set); g++)
        for (size_t i = 0; i < groups[g].n_fields; i++)
            if (groups[g].fields[i].id != 0 &&
                !markdown_row(out, model, &groups[g].fields[i], pen, group_owner(set, g), err))
                return false;
    return true;
}

/* Loads the element XML into a fresh libfixbuf model (IANA elements built in). */
static fbInfoModel_t *
load_model(const char *xml, size_t len, struct nfs_error *err)
{
    fbInfoModel_t *model = fbInfoModelAlloc();
    GError *gerr = NULL;

    if (!fbInfoModelReadXMLData(model, xml, (gssize)len, &gerr)) {
        nfs_error_set(err, "libfixbuf rejects the element file: %s",
                      gerr ? gerr->message : "unknown error");
        g_clear_error(&gerr);
        fbInfoModelFree(model);
        return NULL;
    }
    return model;
}

static bool
write_markdown(const char *path, const char *xml, size_t xml_len, const struct nfs_plugin_set *set,
               uint32_t pen, struct nfs_error *err)
{
    fbInfoModel_t *model = load_model(xml, xml_len, err);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem;
    bool ok;

    if (model == NULL)
        return false;
    if ((mem = open_memstream(&buf, &len)) == NULL) {
        fbInfoModelFree(model);
        nfs_error_set(err, "open_memstream: %s", strerror(errno));
        return false;
    }
    ok = markdown(mem, model, set, pen, err);
    fclose(mem);
    ok = ok && write_file(path, buf, len, err);
    free(buf);
    fbInfoModelFree(model);
    return ok;
}

/* pmacct's len and semantics for a field; false for what it cannot take (lists). */
static bool
pmacct_type(const struct nfs_field *f, char *len, size_t size, const char **semantics)
{
    if (f->type == NFS_T_STRING) {
        snprintf(len, size, "vlen");
        *semantics = "str";
        return true;
    }
    if (nfs_field_is_list(f) || nfs_field_wire_size(f) == 0xFFFF)
        return false;
    snprintf(len, size, "%u", nfs_field_wire_size(f));
    *semantics = f->type == NFS_T_DOUBLE || f->type == NFS_T_I8 || f->type == NFS_T_I32 ||
                         f->type == NFS_T_I64
                     ? "raw"
                     : "u_int";
    return true;
}

static bool
write_pmacct(const char *path, uint32_t pen, struct nfs_error *err)
{
    static const char *const defaults[] = {"dpi", "community_id"};
    struct nfs_plugin_set *set = nfs_plugin_set_create();
    char *buf = NULL, len[16];
    size_t n = 0;
    FILE *mem = open_memstream(&buf, &n);
    bool ok = set != NULL && mem != NULL;

    for (size_t i = 0; ok && i < NFS_NITEMS(defaults); i++) {
        const struct nfs_plugin *p = nfs_plugin_find(defaults[i]);
        void *conf = p ? calloc(1, p->conf_size ? p->conf_size : 1) : NULL;

        ok = conf != NULL && nfs_plugin_conf_defaults(p, conf, err) &&
             nfs_plugin_set_add(set, p, conf, err);
        free(conf);
    }
    if (ok) {
        const struct nfs_field_group *groups = nfs_plugin_set_groups(set);

        fprintf(mem,
                "! nfsensor's enterprise elements (PEN %u) for nfacctd's aggregate_primitives;"
                "\n! generated by nfs-elements --pmacct from the field tables.\n",
                pen);
        for (size_t g = 0; g <= nfs_plugin_set_count(set); g++) {
            for (size_t i = 0; i < groups[g].n_fields; i++) {
                const struct nfs_field *f = &groups[g].fields[i];
                const char *sem;

                if (f->pen == NFS_PEN_OWN && f->id != 0 && pmacct_type(f, len, sizeof(len), &sem))
                    fprintf(mem, "name=%s\tfield_type=%u:%u\tlen=%s\tsemantics=%s\n",
                            f->csv ? f->csv : f->name, pen, f->id, len, sem);
            }
        }
    }
    if (mem != NULL)
        fclose(mem);
    if (ok)
        ok = write_file(path, buf, n, err);
    else if (mem == NULL || set == NULL)
        nfs_error_set(err, "out of memory");
    free(buf);
    nfs_plugin_set_destroy(set);
    return ok;
}

static int
usage(void)
{
    fprintf(stderr, "usage: nfs-elements [--xml FILE] [--markdown FILE] "
                    "[--pmacct FILE] [--enterprise-number N]\n");
    return 64;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"xml", required_argument, NULL, 'x'},
        {"markdown", required_argument, NULL, 'm'},
        {"pmacct", required_argument, NULL, 'p'},
        {"enterprise-number", required_argument, NULL, 'e'},
        {NULL, 0, NULL, 0},
    };
    const char *xml_path = NULL, *md_path = NULL, *pm_path = NULL;
    uint32_t pen = NFS_PEN_DEFAULT;
    struct nfs_plugin_set *set;
    struct nfs_error err;
    size_t xml_len = 0;
    char *xml;
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'x')
            xml_path = optarg;
        else if (c == 'm')
            md_path = optarg;
        else if (c == 'p')
            pm_path = optarg;
        else if (c == 'e' && strtoul(optarg, NULL, 10) > 0)
            pen = (uint32_t)strtoul(optarg, NULL, 10);
        else
            return usage();
    }
    if (optind != argc || (xml_path == NULL && md_path == NULL && pm_path == NULL))
        return usage();
    if ((set = all_builtins(&err)) == NULL ||
        (xml = element_xml(nfs_plugin_set_groups(set), nfs_plugin_set_count(set) + 1, pen, &xml_len,
                           &err)) == NULL) {
        fprintf(stderr, "nfs-elements: %s\n", err.msg);
        nfs_plugin_set_destroy(set);
        return 1;
    }
    bool ok = (xml_path == NULL || write_file(xml_path, xml, xml_len, &err)) &&
              (md_path == NULL || write_markdown(md_path, xml, xml_len, set, pen, &err)) &&
              (pm_path == NULL || write_pmacct(pm_path, pen, &err));
    if (!ok)
        fprintf(stderr, "nfs-elements: %s\n", err.msg);
    free(xml);
    nfs_plugin_set_destroy(set);
    return ok ? 0 : 1;
}
