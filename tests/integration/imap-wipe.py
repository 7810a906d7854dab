#!/usr/bin/env python3
"""imap-wipe: empty an IMAP account as a new one is: every message
expunged, every folder deleted but INBOX and the special ones (with
them what it shared).  Other users' folders it sees stay theirs.  For
the destination's accounts before a test pushes into them.

    imap-wipe.py --ca FILE host port user <pwfile"""

import imaplib
import re
import ssl
import sys

from imapns import others

KEEP = ('INBOX', 'Sent', 'Drafts', 'Trash', 'Junk', 'Archive')


def quote(name):
    return '"' + name.replace('\\', '\\\\').replace('"', '\\"') + '"'


def main():
    ca = sys.argv[2]
    host, port, user = sys.argv[3:6]
    m = imaplib.IMAP4(host, int(port))
    m.starttls(ssl.create_default_context(cafile=ca))
    m.login(user, sys.stdin.readline().rstrip('\n'))
    names, skip = [], others(m)
    for item in m.list('""', '*')[1]:
        if isinstance(item, tuple):
            names.append(item[1].decode())
            continue
        raw = re.match(rb'\([^)]*\) (?:"[^"]*"|NIL) (.*)$', item).group(1)
        raw = raw.decode()
        if raw.startswith('"'):
            raw = raw[1:-1].replace('\\"', '"').replace('\\\\', '\\')
        names.append(raw)
    names = [n for n in names if not any(n.encode().startswith(p)
                                         for p in skip)]
    for name in names:
        typ, data = m.select(quote(name))
        if typ == 'OK' and int(data[0]):
            m.store('1:*', '+FLAGS', '(\\Deleted)')
            m.expunge()
    m.close() if m.state == 'SELECTED' else None
    for name in sorted(names, key=len, reverse=True):
        if name not in KEEP:
            m.delete(quote(name))
    m.logout()


if __name__ == '__main__':
    main()
