#!/usr/bin/env python3
"""imap-dump: what an IMAP account holds, read by an independent client
(Python's imaplib), in the form `migrate-archive ls` gives an archive:

    folder TAB uid TAB size TAB internaldate TAB sha256 TAB flags

one line per message, sorted; flags sorted, \\Recent left out.  With
--state, only folder TAB uidvalidity TAB uid TAB flags (no bodies): cheap,
to show that a run changed nothing on the server.

    imap-dump.py [--state] [--ca FILE] [--prefix P] host port user <pwfile

The password is the first line of standard input.  Folders are read with
EXAMINE and BODY.PEEK, so the dump itself changes nothing."""

import base64
import datetime
import hashlib
import imaplib
import re
import ssl
import sys

from imapns import others


def mutf7_decode(name):
    out, i = [], 0
    while i < len(name):
        c = name[i]
        if c != '&':
            out.append(c)
            i += 1
            continue
        j = name.index('-', i)
        if j == i + 1:
            out.append('&')
        else:
            b64 = name[i + 1:j].replace(',', '/')
            b64 += '=' * (-len(b64) % 4)
            out.append(base64.b64decode(b64).decode('utf-16-be'))
        i = j + 1
    return ''.join(out)


LIST_RE = re.compile(rb'\((?P<attrs>[^)]*)\) (?P<sep>"[^"]*"|NIL) (?P<name>.*)$')


def unquote(b):
    if b.startswith(b'"'):
        return b[1:-1].replace(b'\\"', b'"').replace(b'\\\\', b'\\')
    return b


def folders(imap):
    skip = others(imap)
    typ, data = imap.list('""', '*')
    assert typ == 'OK', data
    out = []
    i = 0
    while i < len(data):
        item = data[i]
        if isinstance(item, tuple):    # name sent as a literal
            m = LIST_RE.match(item[0].rsplit(b' {', 1)[0] + b' x')
            raw = item[1]
        else:
            m = LIST_RE.match(item)
            raw = unquote(m.group('name'))
        i += 1
        attrs = m.group('attrs').lower()
        if b'\\noselect' in attrs or b'\\nonexistent' in attrs or \
                any(raw.startswith(p) for p in skip):
            continue
        out.append(raw.decode())
    return out


def quote(name):
    return '"' + name.replace('\\', '\\\\').replace('"', '\\"') + '"'


def norm_flags(s):
    fl = [f for f in s.split() if f.lower() != '\\recent']
    return ' '.join(sorted(set(fl)))


ITEM_RE = {
    'uid': re.compile(rb'UID (\d+)'),
    'flags': re.compile(rb'FLAGS \(([^)]*)\)'),
    'date': re.compile(rb'INTERNALDATE "([^"]+)"'),
}


def date_epoch(s):
    return int(datetime.datetime.strptime(
        s.strip(), '%d-%b-%Y %H:%M:%S %z').timestamp())


def main():
    args = sys.argv[1:]
    state = ca = None
    prefix = ''
    while args and args[0].startswith('--'):
        opt = args.pop(0)
        if opt == '--state':
            state = True
        elif opt == '--ca':
            ca = args.pop(0)
        elif opt == '--prefix':
            prefix = args.pop(0)
    host, port, user = args
    password = sys.stdin.readline().rstrip('\n')
    imap = imaplib.IMAP4(host, int(port))
    imap.starttls(ssl.create_default_context(cafile=ca))
    imap.login(user, password)
    lines = []
    for raw in folders(imap):
        name = mutf7_decode(raw)
        if prefix and name.startswith(prefix) and name != 'INBOX':
            name = name[len(prefix):]
        typ, data = imap.select(quote(raw), readonly=True)
        assert typ == 'OK', (raw, data)
        uidv = imap.response('UIDVALIDITY')[1][0].decode()
        if int(data[0]) == 0:
            continue
        what = '(UID FLAGS)' if state else \
            '(UID FLAGS INTERNALDATE BODY.PEEK[])'
        typ, data = imap.uid('FETCH', '1:*', what)
        assert typ == 'OK', data
        pending = b''
        for item in data:
            if isinstance(item, tuple):
                head, body = item
                pending = head
                continue
            meta = pending + (item or b'')
            pending = b''
            uid = int(ITEM_RE['uid'].search(meta).group(1))
            flags = norm_flags(ITEM_RE['flags'].search(meta).group(1).decode())
            if state:
                lines.append('%s\t%s\t%d\t%s' % (name, uidv, uid, flags))
                continue
            date = date_epoch(ITEM_RE['date'].search(meta).group(1).decode())
            lines.append('%s\t%d\t%d\t%d\t%s\t%s' % (
                name, uid, len(body), date,
                hashlib.sha256(body).hexdigest(), flags))
    imap.logout()
    for line in sorted(lines):
        print(line)


if __name__ == '__main__':
    main()
