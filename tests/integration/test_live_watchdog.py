#!/usr/bin/python3
"""
test_live_watchdog.py NFSENSORD SOURCE_DIR PLUGIN_DIR: a stuck pipeline stops the watchdog.

With WATCHDOG_USEC=2 s this test plays systemd (NOTIFY_SOCKET) for nfsensord capturing one veth
pair (livenet.py) with the external plugin `stall` (stall_plugin.c), whose hook sleeps 4 s on
a packet of 1111 bytes. WATCHDOG=1 must come while the pipeline runs, stop while it hangs (and
the log say which pipeline), and come again once it moves.
"""
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livenet  # noqa: E402
import nfstest  # noqa: E402
from test_live_systemd import Notifications  # noqa: E402

SEND_1111 = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"x" * (1111 - 14 - 20 - 8), (sys.argv[1], 9))
"""


def main():
    ck = nfstest.Checker("test_live_watchdog")
    daemon = nfstest.need_daemon()
    livenet.need_root_netns()
    plugin_dir = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None
    if not plugin_dir or not os.path.exists(os.path.join(plugin_dir, "stall.so")):
        nfstest.skip("stall.so not built")
    with nfstest.tempdir("watchdog") as work:
        with livenet.Net(base=233, pairs=1) as net:
            run(ck, daemon, net, work, plugin_dir)
    ck.finish()


def run(ck, daemon, net, work, plugin_dir):
    sink = livenet.Sink(net, work)
    conf, log = os.path.join(work, "nfsensor.yaml"), os.path.join(work, "daemon.log")
    livenet.write_config(conf, net, sink.port, (5,),
                         extra="plugin_dir: %s\nplugins: [stall]" % plugin_dir)
    notify = Notifications(os.path.join(work, "notify.sock"))
    notify.start()
    env = dict(os.environ, NOTIFY_SOCKET=notify.sock.getsockname(), WATCHDOG_USEC="2000000")
    cmd = 'export WATCHDOG_PID=$$; exec ip netns exec %s "$@"' % net.sensor
    t0 = time.time()
    with open(log, "w") as logf:
        d = subprocess.Popen(["sh", "-c", cmd, "sh", daemon, "--config", conf], stderr=logf,
                             env=env, start_new_session=True)
    net.procs.append(d)
    if not ck.check("READY=1", livenet.wait_for(lambda: notify.since(t0, "READY=1"), 20),
                    livenet.read_log(log)):
        return
    time.sleep(1.5)
    ck.check("WATCHDOG=1 while the pipeline runs", len(notify.since(t0, "WATCHDOG=1")) >= 2)
    net.run(net.sensor, [sys.executable, "-c", SEND_1111, net.peer_ip(0)])
    time.sleep(1.5)  # the packet reaches the plugin within the ring's block timeout
    t_quiet = time.time()
    time.sleep(1.5)
    ck.check("no WATCHDOG=1 while the pipeline hangs",
             not notify.since(t_quiet, "WATCHDOG=1"), str(notify.since(t_quiet, "WATCHDOG=1")))
    ck.check("the log names the stuck pipeline", "pipeline %s has made no progress" %
             net.ifaces[0] in livenet.read_log(log), livenet.read_log(log))
    t_back = time.time()
    ck.check("WATCHDOG=1 again once it moves",
             livenet.wait_for(lambda: notify.since(t_back, "WATCHDOG=1"), 6))
    d.send_signal(signal.SIGTERM)
    try:
        rc = d.wait(30)
    except subprocess.TimeoutExpired:
        rc = None
    ck.check("SIGTERM: exit 0", rc == 0, nfstest.tail(livenet.read_log(log)))
    notify.halt = True
    sink.stop()


if __name__ == "__main__":
    main()
