#!/usr/bin/python3
"""
dns_responder.py ADDR: a tiny DNS server for the live tests (not a test itself): answers every
A query on ADDR:53 with 192.0.2.1 (TTL 60). dns_responder.py --query SERVER NAME sends one
query and exits 0 when an answer came back.
"""
import socket
import struct
import sys


def question(name):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return q + struct.pack("!HH", 1, 1)


def query(server, name):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + question(name), (server, 53))
    data, _ = s.recvfrom(2048)
    return 0 if data[:2] == b"\x12\x34" and struct.unpack("!H", data[6:8])[0] == 1 else 1


def serve(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    while True:
        data, peer = s.recvfrom(2048)
        if len(data) < 12:
            continue
        qid, _, qd = struct.unpack("!HHH", data[:6])
        end = 12
        while end < len(data) and data[end] != 0:
            end += data[end] + 1
        q = data[12:end + 5]
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("192.0.2.1")
        s.sendto(struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q + answer, peer)


if __name__ == "__main__":
    if sys.argv[1] == "--query":
        sys.exit(query(sys.argv[2], sys.argv[3]))
    serve(sys.argv[1])
