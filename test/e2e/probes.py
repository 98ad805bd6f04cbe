"""Bypass probes for the end-to-end suite, run inside the pod as the agent or as sluice's uid.

Each prints what happened and exits 0 only when the far end answered, so that the same probe
proves a path works (exempt uid) and that it is closed (agent uid).

  probes.py udp HOST PORT          a datagram (QUIC-like on 443); waits for the canary's echo
  probes.py icmp HOST              an ICMP echo through an unprivileged ping socket
  probes.py dns SERVER NAME [tcp]  an A query sent straight to SERVER:53; prints the answers
  probes.py tcp HOST PORT          a TCP connection; prints the first line it is sent
  probes.py https URL              urllib GET (trust from SSL_CERT_FILE); prints status and body
"""
import socket
import struct
import sys
import urllib.request

TIMEOUT = 2.0


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def udp(host, port):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    s.sendto(b"probe", (host, int(port)))
    data, _ = s.recvfrom(100)
    print("reply", data.decode().strip())


def icmp(host):
    fam = family(host)
    proto = socket.IPPROTO_ICMPV6 if fam == socket.AF_INET6 else socket.IPPROTO_ICMP
    echo = 128 if fam == socket.AF_INET6 else 8
    s = socket.socket(fam, socket.SOCK_DGRAM, proto)
    s.settimeout(TIMEOUT)
    s.sendto(struct.pack("!BBHHH", echo, 0, 0, 0, 1) + b"sluice", (host, 0))
    s.recvfrom(100)
    print("reply")


def dns_query(name):
    header = struct.pack("!HHHHHH", 0x5C5C, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return header + qname + struct.pack("!HH", 1, 1)


def dns(server, name, transport="udp"):
    query = dns_query(name)
    if transport == "tcp":
        s = socket.create_connection((server, 53), timeout=TIMEOUT)
        s.sendall(struct.pack("!H", len(query)) + query)
        length = struct.unpack("!H", s.recv(2))[0]
        reply = b""
        while len(reply) < length:
            reply += s.recv(length - len(reply))
    else:
        s = socket.socket(family(server), socket.SOCK_DGRAM)
        s.settimeout(TIMEOUT)
        s.sendto(query, (server, 53))
        reply, _ = s.recvfrom(4096)
    rcode = reply[3] & 0x0F
    answers = []
    count = struct.unpack("!H", reply[6:8])[0]
    offset = skip_name(reply, 12) + 4  # the question: name, type, class
    for _ in range(count):
        offset = skip_name(reply, offset)
        rtype, _, _, rdlength = struct.unpack("!HHIH", reply[offset:offset + 10])
        offset += 10
        if rtype == 1 and rdlength == 4:
            answers.append(socket.inet_ntoa(reply[offset:offset + 4]))
        offset += rdlength
    print("rcode", rcode, "answers", " ".join(answers))


def skip_name(packet, offset):
    """The offset after a (possibly compressed) domain name."""
    while True:
        length = packet[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:
            return offset + 2
        offset += 1 + length


def tcp(host, port):
    s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    print("connected")
    data = s.recv(100)
    print("got", data.decode(errors="replace").strip())
    if not data.startswith(b"canary"):
        sys.exit(1)


def https(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        print(response.status, response.read().decode())


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    try:
        {"udp": udp, "icmp": icmp, "dns": dns, "tcp": tcp, "https": https}[command](*args)
    except urllib.error.HTTPError as err:
        print("http", err.code, err.read().decode())
        sys.exit(1)
    except Exception as err:  # the probe's verdict is its exit status; say why
        print("failed", type(err).__name__, err)
        sys.exit(1)
