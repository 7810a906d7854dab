#!/usr/bin/env python3
"""pop3-hashes.py [--ca FILE] [--starttls] HOST PORT USER: every message of
the maildrop as "UIDL SHA-256-of-RETR", one a line, read with Python's own
poplib, a client independent of the project's.  The password comes on
standard input."""
import argparse
import hashlib
import poplib
import ssl
import sys

ap = argparse.ArgumentParser()
ap.add_argument('--ca')
ap.add_argument('--starttls', action='store_true')
ap.add_argument('host')
ap.add_argument('port', type=int)
ap.add_argument('user')
a = ap.parse_args()
pw = sys.stdin.readline().rstrip('\n')
p = poplib.POP3(a.host, a.port, timeout=60)
if a.starttls:
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.check_hostname = False
    p.stls(ctx)
p.user(a.user)
p.pass_(pw)
for line in p.uidl()[1]:
    n, uidl = line.decode().split(' ', 1)
    body = b''.join(l + b'\r\n' for l in p.retr(int(n))[1])
    print(uidl, hashlib.sha256(body).hexdigest())
p.quit()
