#!/usr/bin/env python3
"""An IMAP client that logs in through the proxy, then sends 24 MB of
NOOPs without reading a byte, so that every buffer between it and the
server fills.  After WAIT seconds it reads to the end and prints how the
connection ended: "end: eof", or the error (a reset) instead.

usage: proxy-flood.py PORT USER WAIT   (the password on stdin)"""
import socket
import sys
import threading
import time

port, user, wait = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
password = sys.stdin.readline().rstrip("\n")
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
f.readline()
s.sendall(b'a LOGIN %s "%s"\r\n' % (user.encode(), password.encode()))
while not f.readline().startswith(b"a "):
    pass


def flood():
    try:
        s.sendall(b"".join(b"n%d NOOP\r\n" % i for i in range(2000000)))
        print("sent", flush=True)
    except OSError as e:
        print("send:", type(e).__name__, flush=True)


w = threading.Thread(target=flood, daemon=True)
w.start()
print("flooding", flush=True)
time.sleep(wait)
try:
    while s.recv(65536):
        pass
    print("end: eof", flush=True)
except OSError as e:
    print("end:", type(e).__name__, flush=True)
w.join(5)
