/*
 * pcap_loop.c: the floor of the benchmarks: the usual libpcap read loop over a file, touching
 * each packet's first bytes (as any meter must) and nothing else.
 *
 * usage: pcap_loop FILE     prints packets and bytes read.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int
main(int argc, char **argv)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *data;
    uint64_t packets = 0, bytes = 0, sum = 0;
    pcap_t *p;

    if (argc != 2 || (p = pcap_open_offline(argv[1], errbuf)) == NULL) {
        fprintf(stderr, "usage: pcap_loop FILE\n");
        return 64;
    }
    while (pcap_next_ex(p, &h, &data) == 1) {
        packets++;
        bytes += h->caplen;
        sum += data[h->caplen > 30 ? 30 : 0];
    }
    printf("%llu packets, %llu bytes (%llu)\n", (unsigned long long)packets,
           (unsigned long long)bytes, (unsigned long long)(sum & 1));
    pcap_close(p);
    return 0;
}
