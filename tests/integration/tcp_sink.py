#!/usr/bin/python3
"""
tcp_sink.py PORT OUT [--rcvbuf BYTES] [--rate BYTES_PER_S] [--stall-after BYTES]
            [--die-after BYTES]

A minimal IPFIX-over-TCP collector for the export tests: listens on 127.0.0.1:PORT (0: any
free port), accepts one connection after another and appends every byte it reads to OUT, as
socat would: a TCP IPFIX stream is an RFC 5655 file. After the first connection reaches EOF it
closes and exits. Prints "listening PORT" once bound. --rcvbuf sets SO_RCVBUF on the listening
socket (so at most about twice that is ever unread when the sink is killed); --rate reads at
most that many bytes a second (a slow collector); --stall-after stops reading after that many
bytes (a stalled collector: killed then, it has unread data and its kernel resets the
connection); --die-after, once that many bytes are stored, reads once more and kills itself
(SIGKILL) before storing what it read (a collector killed between reading and storing: its
receive buffer is empty, unless more came in that instant, so its kernel closes the connection
with a FIN, not a reset).
"""
import argparse
import os
import signal
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("out")
    ap.add_argument("--rcvbuf", type=int, default=0)
    ap.add_argument("--rate", type=int, default=0)
    ap.add_argument("--stall-after", type=int, default=0)
    ap.add_argument("--die-after", type=int, default=0)
    a = ap.parse_args()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if a.rcvbuf:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    for _ in range(100):
        try:
            ls.bind(("127.0.0.1", a.port))
            break
        except OSError:
            time.sleep(0.1)  # the killed sink's port may linger a moment
    ls.listen(4)
    print("listening %d" % ls.getsockname()[1], flush=True)
    conn, _ = ls.accept()
    chunk = 65536
    t0, got = time.time(), 0
    with open(a.out, "ab", buffering=0) as out:
        while True:
            data = conn.recv(chunk)
            if not data:
                break
            if a.die_after and got >= a.die_after:
                os.kill(os.getpid(), signal.SIGKILL)  # data was read, never stored
            out.write(data)
            got += len(data)
            while a.stall_after and got >= a.stall_after:
                time.sleep(1)
            if a.rate:
                ahead = got / a.rate - (time.time() - t0)
                if ahead > 0:
                    time.sleep(ahead)
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
