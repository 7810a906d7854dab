#!/usr/bin/env python3
"""pop3-retr: a tight POP3 client for the benchmarks.  Logs in with
USER/PASS (the password is the first line of standard input), sends UIDL
and then RETR for every message, pipelined, and throws the bytes away,
counting each answer's end; prints "MESSAGES BYTES SECONDS" for the UIDL
and RETRs, and the UIDL listing's ids to FILE with --ids FILE.

    pop3-retr.py [--ids FILE] PORT USER"""

import socket
import sys
import time

args = sys.argv[1:]
ids_file = None
if args[0] == "--ids":
    ids_file, args = args[1], args[2:]
port, user = int(args[0]), args[1]
pw = sys.stdin.readline().rstrip("\n")
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")


def status():
    line = f.readline()
    if not line.startswith(b"+OK"):
        sys.exit("pop3-retr: %r" % line)
    return line


status()
s.sendall(b"USER %s\r\n" % user.encode())
status()
s.sendall(b"PASS %s\r\n" % pw.encode())
status()
start = time.monotonic()
s.sendall(b"UIDL\r\n")
status()
ids = []
while True:
    line = f.readline()
    if line == b".\r\n":
        break
    ids.append(line.split()[1].decode())
n = len(ids)
if ids_file:
    with open(ids_file, "w") as out:
        out.write("\n".join(ids) + "\n")
# RETR in batches of 100 ahead; each answer ends with CRLF "." CRLF,
# which no message can hold (its dots are stuffed)
END = b"\r\n.\r\n"
sent = done = 0
total = 0
tail = b""
while done < n:
    if sent < n and sent - done < 100:
        batch = range(sent + 1, min(n, done + 200) + 1)
        s.sendall(b"".join(b"RETR %d\r\n" % i for i in batch))
        sent = batch[-1]
    data = f.read1(1 << 20)
    if not data:
        sys.exit("pop3-retr: the server closed the connection")
    total += len(data)
    buf = tail + data
    done += buf.count(END)
    tail = buf[-4:]
secs = time.monotonic() - start
s.sendall(b"QUIT\r\n")
print(n, total, "%.3f" % secs)
