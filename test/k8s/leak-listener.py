# A listener that should never hear from a pod behind sluice: TCP 443 and 2222 and UDP 9999 and
# 53, on IPv4 and IPv6 (dual-stack sockets). Every connection or datagram it receives is printed
# ("seen ..."), so a test that finds such a line in its output has found a leak.
import socket
import threading

def tcp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    s.listen(16)
    while True:
        conn, addr = s.accept()
        print(f"seen tcp {port} from {addr[0]}", flush=True)
        conn.sendall(b"leak listener\n")
        conn.close()

def udp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    while True:
        data, addr = s.recvfrom(2048)
        print(f"seen udp {port} from {addr[0]}: {data[:40]!r}", flush=True)
        s.sendto(b"leak listener", addr)

for target, port in ((tcp, 443), (tcp, 2222), (udp, 9999), (udp, 53)):
    threading.Thread(target=target, args=(port,), daemon=True).start()
print("leak listener ready", flush=True)
threading.Event().wait()
