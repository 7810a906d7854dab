# A stand-in for syslog on a machine without one: Cyrus logs only there.
# Receives datagrams on a Unix socket (normally /dev/log) and appends them
# to a file, one per line.
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "ab", buffering=0) as f:
    while True:
        d = s.recv(65536)
        f.write(d.rstrip(b"\0\n") + b"\n")
