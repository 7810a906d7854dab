#!/usr/bin/env python3
"""pop3-leave: a POP3 client that leaves mail on the server, as desktop
clients and devices do: it remembers the UIDL of every message it has
fetched (in SEEN, a file of its own) and, on each check, fetches only the
messages whose id it does not know, with Python's own poplib.

    pop3-leave.py [--dele] SEEN PORT USER <pwfile

Plain POP3 at 127.0.0.1:PORT (the proxy); the password is the first line
of standard input.  Prints "ids N" (the ids the server gave), then
"fetched UIDL MESSAGE-ID" for each message fetched, then "uidl-one OK"
when "UIDL n" agrees with the listing for every message.  With --dele,
the messages fetched are deleted (DELE) before QUIT, and "deleted K"
says how many the server took."""

import email.parser
import poplib
import sys

args = sys.argv[1:]
dele = args and args[0] == "--dele"
if dele:
    args = args[1:]
seen_file, port, user = args
pw = sys.stdin.readline().rstrip("\n")
try:
    with open(seen_file) as f:
        seen = set(f.read().split())
except FileNotFoundError:
    seen = set()

p = poplib.POP3("127.0.0.1", int(port), timeout=60)
p.user(user)
p.pass_(pw)
ids = {}
for line in p.uidl()[1]:
    n, uid = line.decode().split(" ", 1)
    ids[int(n)] = uid
print("ids", len(ids))
agree = all(p.uidl(n).decode().split()[2] == uid for n, uid in ids.items())
fetched = []
for n, uid in sorted(ids.items()):
    if uid in seen:
        continue
    lines = p.retr(n)[1]
    head = email.parser.BytesHeaderParser().parsebytes(b"\r\n".join(lines))
    print("fetched", uid, head.get("Message-ID", "-"))
    fetched.append(n)
    seen.add(uid)
if agree:
    print("uidl-one OK")
if dele:
    for n in fetched:
        p.dele(n)
    print("deleted", len(fetched))
p.quit()
with open(seen_file, "w") as f:
    f.write("\n".join(sorted(seen)) + "\n")
