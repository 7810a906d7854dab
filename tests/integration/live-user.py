#!/usr/bin/env python3
"""live-user: what a user does to their mail, and where it ends up, for
the cutover tests.  The password is the first line of standard input.

    live-user.py act PORT USER
        on plain IMAP at 127.0.0.1:PORT (the proxy): in INBOX, flag one
        message, move one to a new folder "Kept", delete and expunge one,
        and receive one new message (APPEND); prints "flagged|moved|
        deleted|new MESSAGE-ID", one line each
    live-user.py late PORT CAFILE USER
        a late delivery at the source (STARTTLS): one new message in
        INBOX; prints "late MESSAGE-ID"
    live-user.py receive PORT USER N
        N new messages in INBOX on plain IMAP; prints "new MESSAGE-ID"
        for each
    live-user.py count PORT CAFILE|- USER FOLDER
        how many messages the folder holds
    live-user.py where PORT CAFILE|- USER MESSAGE-ID...
        every folder that holds each message, with its flags: "MESSAGE-ID
        TAB folder TAB flags", sorted (nothing for one found nowhere)"""

import email.utils
import imaplib
import re
import ssl
import sys
import time


def connect(port, ca, user, pw):
    m = imaplib.IMAP4("127.0.0.1", int(port), timeout=60)
    if ca and ca != "-":
        m.starttls(ssl.create_default_context(cafile=ca))
    m.login(user, pw)
    return m


def message(mid, subject):
    return ("From: someone@example.net\r\nTo: user@example.org\r\n"
            "Subject: %s\r\nDate: %s\r\nMessage-ID: %s\r\n\r\n"
            "%s\r\n" % (subject, email.utils.formatdate(), mid,
                        subject)).encode()


def message_ids(m, uids):
    typ, data = m.uid("FETCH", ",".join(uids),
                      "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    out = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        uid = re.search(rb"UID (\d+)", item[0]).group(1).decode()
        mid = re.search(rb"<[^>]*>", item[1])
        if mid:
            out[uid] = mid.group(0).decode()
    return out


def act(port, user, pw):
    m = connect(port, None, user, pw)
    m.select("INBOX")
    typ, data = m.uid("SEARCH", "UNDELETED")
    uids = data[0].decode().split()
    mids = message_ids(m, uids[:20])
    picked = [u for u in uids[:20] if u in mids][:3]
    assert len(picked) == 3, "INBOX has too few messages"
    m.uid("STORE", picked[0], "+FLAGS", "(\\Flagged)")
    print("flagged", mids[picked[0]])
    m.create("Kept")
    typ, data = m.uid("MOVE", picked[1], "Kept")
    assert typ == "OK", data
    print("moved", mids[picked[1]])
    m.uid("STORE", picked[2], "+FLAGS", "(\\Deleted)")
    m.uid("EXPUNGE", picked[2])
    print("deleted", mids[picked[2]])
    mid = "<new-%d@destination.example>" % time.time_ns()
    typ, data = m.append("INBOX", "", imaplib.Time2Internaldate(time.time()),
                         message(mid, "received after the cutover"))
    assert typ == "OK", data
    print("new", mid)
    m.logout()


def receive(port, user, pw, n):
    m = connect(port, None, user, pw)
    for i in range(int(n)):
        mid = "<new-%d-%d@destination.example>" % (time.time_ns(), i)
        typ, data = m.append("INBOX", "", imaplib.Time2Internaldate(
            time.time()), message(mid, "more mail after the cutover"))
        assert typ == "OK", data
        print("new", mid)
    m.logout()


def count(port, ca, user, pw, folder):
    m = connect(port, ca, user, pw)
    typ, data = m.status(quote(folder), "(MESSAGES)")
    print(re.search(rb"MESSAGES (\d+)", data[0]).group(1).decode())
    m.logout()


def late(port, ca, user, pw):
    m = connect(port, ca, user, pw)
    mid = "<late-%d@source.example>" % time.time_ns()
    typ, data = m.append("INBOX", "", imaplib.Time2Internaldate(time.time()),
                         message(mid, "a late delivery from the queue"))
    assert typ == "OK", data
    print("late", mid)
    m.logout()


LIST_RE = re.compile(rb'\((?P<attrs>[^)]*)\) (?P<sep>"[^"]*"|NIL) (?P<name>.*)$')


def folders(m):
    """The selectable folders, as the server names them (quoted)."""
    typ, data = m.list('""', "*")
    out, i = [], 0
    while i < len(data):
        item = data[i]
        i += 1
        if isinstance(item, tuple):    # a name sent as a literal
            attrs = LIST_RE.match(item[0].rsplit(b" {", 1)[0] + b" x")
            name = item[1]
        else:
            attrs = LIST_RE.match(item)
            name = attrs.group("name")
            if name.startswith(b'"'):
                name = name[1:-1].replace(b'\\"', b'"').replace(
                    b"\\\\", b"\\")
        if b"\\noselect" in attrs.group("attrs").lower():
            continue
        out.append(name.decode())
    return out


def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def where(port, ca, user, pw, mids):
    m = connect(port, ca, user, pw)
    rows = []
    for f in folders(m):
        m.select(quote(f), readonly=True)
        for mid in mids:
            typ, data = m.uid("SEARCH", "HEADER", "Message-ID", mid)
            for uid in data[0].decode().split():
                typ, fl = m.uid("FETCH", uid, "(FLAGS)")
                flags = re.search(rb"FLAGS \(([^)]*)\)", fl[0]).group(1)
                keep = sorted(x for x in flags.decode().split()
                              if x.lower() not in ("\\recent",) and
                              not x.lower().startswith("$has"))
                rows.append("%s\t%s\t%s" % (mid, f, " ".join(keep)))
    m.logout()
    for r in sorted(rows):
        print(r)


def main():
    pw = sys.stdin.readline().rstrip("\n")
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "act":
        act(args[0], args[1], pw)
    elif cmd == "late":
        late(args[0], args[1], args[2], pw)
    elif cmd == "receive":
        receive(args[0], args[1], pw, args[2])
    elif cmd == "count":
        count(args[0], args[1], args[2], pw, args[3])
    elif cmd == "where":
        where(args[0], args[1], args[2], pw, args[3:])
    else:
        sys.exit("usage: live-user.py act|receive|count|late|where ...")


if __name__ == "__main__":
    main()
