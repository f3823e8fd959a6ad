#!/usr/bin/python3
"""
ipfix_sink.py DIR: an IPFIX-over-TCP collector for the live tests (not a test itself).

Listens on 127.0.0.1 (any free port; prints "listening PORT"), accepts any number of
connections at once (nfsensord opens one per interface and collector) and writes each one's
bytes to DIR/conn-N.part, renamed DIR/conn-N.ipfix when the exporter has closed it: a TCP IPFIX
stream is an RFC 5655 file. Runs until SIGTERM.
"""
import os
import signal
import socket
import sys
import threading


def serve(conn, n, outdir):
    part = os.path.join(outdir, "conn-%d.part" % n)
    with conn, open(part, "wb", buffering=0) as out:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            out.write(data)
    os.rename(part, os.path.join(outdir, "conn-%d.ipfix" % n))


def main():
    outdir = sys.argv[1]
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    print("listening %d" % ls.getsockname()[1], flush=True)
    n = 0
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn, n, outdir), daemon=True).start()
        n += 1


if __name__ == "__main__":
    main()
