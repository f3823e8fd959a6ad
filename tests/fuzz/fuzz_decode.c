/*
 * fuzz_decode.c: the packet decoder, over every link type it supports.
 *
 * Input: byte 0 picks the link type (modulo the number nfs_decode_link_supported() accepts,
 * in DLT order), byte 1 the decoder options (bit 0 tunnels, bit 1 nfsensor's extra tunnels,
 * bit 2 a wire length above the captured one), the rest is the captured frame, in an
 * allocation of its own so that a read past caplen is an ASan report. The decoded packet is
 * checked against the frame: every pointer it keeps lies inside the captured bytes. And the
 * fast path (decode_fast.c) must decode exactly as the general steps do: the same verdict and,
 * byte for byte, the same packet.
 */
#include "decode.h"
#include "decode_internal.h"
#include "fuzz.h"

#define MAX_DLT 300

static int dlts[MAX_DLT];
static size_t n_dlts;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    for (int d = 0; d < MAX_DLT; d++)
        if (nfs_decode_link_supported(d))
            dlts[n_dlts++] = d;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nfs_decode_options opt;
    struct nfs_packet pkt, general;
    enum nfs_counter verdict;
    uint8_t *frame;
    size_t len;

    if (n_dlts == 0)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size < 2)
        return 0;
    len = size - 2;
    frame = fuzz_copy(data + 2, len);
    if (frame == NULL)
        return 0;
    opt.decode_tunnels = data[1] & 1;
    opt.extra_tunnels = (data[1] & 2) != 0;
    memset(&pkt, 0, sizeof(pkt));
    pkt.ts_us = 1700000000000000ull;
    pkt.cap_len = (uint32_t)len;
    pkt.wire_len = (uint32_t)len + (data[1] & 4 ? 1460 : 0);
    general = pkt;
    verdict = nfs_decode(&pkt, dlts[data[0] % n_dlts], frame, &opt);
    if (verdict >= NFS_C_COUNT)
        abort();
    if (nfs_decode_steps(&general, dlts[data[0] % n_dlts], frame, &opt) != verdict ||
        (verdict == NFS_C_PROCESSED && memcmp(&general, &pkt, sizeof(pkt)) != 0))
        abort();
    if (verdict == NFS_C_PROCESSED) {
        if (pkt.ip_version != 4 && pkt.ip_version != 6)
            abort();
        if (pkt.ip < frame || pkt.ip > frame + len || pkt.ip_cap_len > len ||
            (size_t)(pkt.ip - frame) + pkt.ip_cap_len > len)
            abort();
    }
    free(frame);
    return 0;
}
