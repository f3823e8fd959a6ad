/*
 * test_flow_key.c: key normalisation and direction.
 */
#include "check.h"
#include "flow_key.h"
#include "packets.h"

static void
test_both_directions_make_one_key(void)
{
    struct nfs_packet a = pkt4(IP(10, 0, 0, 2), 40000, IP(10, 0, 0, 1), 443, 6, 0, 60, 0);
    struct nfs_packet b = pkt4(IP(10, 0, 0, 1), 443, IP(10, 0, 0, 2), 40000, 6, 0, 60, 0);
    struct nfs_flow_key ka, kb;
    unsigned sa = nfs_flow_key_make(&ka, &a), sb = nfs_flow_key_make(&kb, &b);

    CHECK(nfs_flow_key_eq(&ka, &kb));
    CHECK_EQ(nfs_flow_key_hash(&ka), nfs_flow_key_hash(&kb));
    CHECK(sa != sb);
}

static void
test_equal_addresses_order_by_port(void)
{
    struct nfs_packet a = pkt4(IP(127, 0, 0, 1), 2000, IP(127, 0, 0, 1), 1000, 17, 0, 60, 0);
    struct nfs_packet b = pkt4(IP(127, 0, 0, 1), 1000, IP(127, 0, 0, 1), 2000, 17, 0, 60, 0);
    struct nfs_flow_key ka, kb;
    unsigned sa = nfs_flow_key_make(&ka, &a), sb = nfs_flow_key_make(&kb, &b);

    CHECK(nfs_flow_key_eq(&ka, &kb));
    CHECK_EQ(sa, 1);
    CHECK_EQ(sb, 0);
}

static void
test_same_endpoint_both_sides_is_side_zero(void)
{
    struct nfs_packet a = pkt4(IP(10, 1, 1, 1), 53, IP(10, 1, 1, 1), 53, 17, 0, 60, 0);
    struct nfs_flow_key k;

    CHECK_EQ(nfs_flow_key_make(&k, &a), 0);
}

static void
test_vlan_tunnel_and_protocol_separate_flows(void)
{
    struct nfs_packet a = pkt4(IP(10, 0, 0, 1), 1, IP(10, 0, 0, 2), 2, 17, 0, 60, 0);
    struct nfs_packet b = a, c = a, d = a;
    struct nfs_flow_key ka, kb, kc, kd;

    b.vlan_id = 7;
    c.tunnel_id = NFS_TUNNEL_GTP_U;
    d.protocol = 6;
    nfs_flow_key_make(&ka, &a);
    nfs_flow_key_make(&kb, &b);
    nfs_flow_key_make(&kc, &c);
    nfs_flow_key_make(&kd, &d);
    CHECK(!nfs_flow_key_eq(&ka, &kb));
    CHECK(!nfs_flow_key_eq(&ka, &kc));
    CHECK(!nfs_flow_key_eq(&ka, &kd));
}

static void
test_macs_are_not_in_the_key(void)
{
    struct nfs_packet a = pkt4(IP(10, 0, 0, 1), 1, IP(10, 0, 0, 2), 2, 17, 0, 60, 0);
    struct nfs_packet b = a;
    struct nfs_flow_key ka, kb;

    b.has_mac = true;
    b.src_mac[0] = 0x42;
    nfs_flow_key_make(&ka, &a);
    nfs_flow_key_make(&kb, &b);
    CHECK(nfs_flow_key_eq(&ka, &kb));
}

int
main(void)
{
    RUN(test_both_directions_make_one_key);
    RUN(test_equal_addresses_order_by_port);
    RUN(test_same_endpoint_both_sides_is_side_zero);
    RUN(test_vlan_tunnel_and_protocol_separate_flows);
    RUN(test_macs_are_not_in_the_key);
    return check_exit();
}
