"""Probes and a listener for iptables-leaks-netns.test.ts, run inside a test namespace.

  leak-probes.py serve HOST PORT TAG         answer TAG on UDP and TCP at HOST:PORT; prints "ready"
  leak-probes.py udp HOST PORT [SRC_PORT]    one datagram (from SRC_PORT if given); prints the reply
  leak-probes.py tcp HOST PORT               connect; prints the first line it is sent
  leak-probes.py ndp TYPE DST HOPS MARKER    an ICMPv6 message of TYPE (133-137: neighbour
                                             discovery) on a raw socket, with hop limit HOPS and
                                             MARKER in its body; DST may carry a zone (fe80::1%eth0)

udp and tcp exit 0 only when the far end answered. ndp exits 0 when the kernel took the packet;
whether it left is for the receiver to count (the rules may drop it after sendto returned).
"""
import socket
import struct
import sys
import threading

TIMEOUT = 2.0


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def serve(host, port, tag):
    reply = (tag + "\n").encode()
    udp_sock = socket.socket(family(host), socket.SOCK_DGRAM)
    udp_sock.bind((host, int(port)))
    tcp_sock = socket.socket(family(host), socket.SOCK_STREAM)
    tcp_sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp_sock.bind((host, int(port)))
    tcp_sock.listen(16)

    def answer_udp():
        while True:
            _, peer = udp_sock.recvfrom(4096)
            udp_sock.sendto(reply, peer)

    threading.Thread(target=answer_udp, daemon=True).start()
    print("ready", flush=True)
    while True:
        conn, _ = tcp_sock.accept()
        try:
            conn.sendall(reply)
        finally:
            conn.close()


def udp(host, port, src_port=None):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    if src_port is not None:
        s.bind(("::" if family(host) == socket.AF_INET6 else "0.0.0.0", int(src_port)))
    s.settimeout(TIMEOUT)
    s.sendto(b"probe", (host, int(port)))
    data, _ = s.recvfrom(100)
    print("reply", data.decode().strip())


def tcp(host, port):
    s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    data = s.recv(100)
    print("reply", data.decode(errors="replace").strip())
    if not data:
        sys.exit(1)


def ndp(kind, dst, hops, marker):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, int(hops))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, int(hops))
    # type, code, checksum (the kernel fills it for raw ICMPv6), 4 reserved bytes, then the
    # marker where a target address would be: what is counted at the far end.
    s.sendto(struct.pack("!BBHI", int(kind), 0, 0, 0) + marker.encode(), (dst, 0))
    print("sent")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    try:
        {"serve": serve, "udp": udp, "tcp": tcp, "ndp": ndp}[command](*args)
    except Exception as err:  # the probe's verdict is its exit status; say why
        print("failed", type(err).__name__, err)
        sys.exit(1)
