/*
 * pipeline.h: one packet path, from raw frame to ended flow record.
 *
 * A pipeline owns its clock, flow table and counters (and, with later issues, its nDPI module
 * and plugin state), so the packet path takes no lock. It calls the stages in the order of
 * DESIGN.md's diagram: decode -> flow table (key, cuts, counters) -> expiry -> records.
 * Records go to the callback given at creation, in order of emission, with ids from 0.
 */
#ifndef NFS_PIPELINE_H
#define NFS_PIPELINE_H

#include "capture.h"
#include "counters.h"
#include "decode.h"
#include "flow.h"
#include "plugin_set.h"
#include "record.h"

struct nfs_pipeline_options {
    struct nfs_flow_options flows;
    struct nfs_decode_options decode;
    const struct nfs_plugin_set *plugins; /* NULL: none; must outlive the pipeline */
    unsigned index;                       /* which pipeline of the process, from 0 */
};

/* Fills opt with nfsensor's defaults; nfstream selects NFStream's behaviour throughout. */
void nfs_pipeline_options_default(struct nfs_pipeline_options *opt, bool nfstream);

/*
 * An ended flow: groups[0] is the struct nfs_record, groups[1 + i] plugin i's values, as laid
 * out by nfs_plugin_set_groups(). Valid during the call only.
 */
typedef void (*nfs_record_fn)(void *ctx, const struct nfs_record *rec, const void *const *groups);

struct nfs_pipeline;

/* Returns NULL and fills err when the flow table cannot be reserved or a plugin's setup fails. */
struct nfs_pipeline *nfs_pipeline_create(const struct nfs_pipeline_options *opt,
                                         nfs_record_fn emit, void *emit_ctx,
                                         struct nfs_error *err);
void nfs_pipeline_destroy(struct nfs_pipeline *p);

/* Meters one captured frame of link type dlt. Never fails: bad packets are counted. */
void nfs_pipeline_packet(struct nfs_pipeline *p, int dlt, uint64_t ts_us, uint32_t cap_len,
                         uint32_t wire_len, const uint8_t *data);

/*
 * Meters n frames in order, exactly as n calls of nfs_pipeline_packet would, but decodes and
 * hashes them in groups first so that their flows' memory is loaded while earlier packets are
 * counted: a flow table much larger than the caches costs misses otherwise.
 */
void nfs_pipeline_frames(struct nfs_pipeline *p, const struct nfs_frame *frames, size_t n);

/* Expires by the given wall-clock time too (live capture with no packets); offline unused. */
void nfs_pipeline_tick(struct nfs_pipeline *p, uint64_t now_us);

/* A reload: the flow options' idle, active and TCP linger timeouts apply from now on. */
void nfs_pipeline_set_timeouts(struct nfs_pipeline *p, const struct nfs_flow_options *flows);

/* Ends and emits every flow: end of input or shutdown. */
void nfs_pipeline_flush(struct nfs_pipeline *p);

const struct nfs_counters *nfs_pipeline_counters(const struct nfs_pipeline *p);
uint32_t nfs_pipeline_active_flows(const struct nfs_pipeline *p);

#endif
