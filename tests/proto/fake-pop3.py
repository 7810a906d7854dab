#!/usr/bin/env python3
"""fake-pop3: a scripted POP3 server on 127.0.0.1 for what real servers
never do.  Serves one connection, then exits.

    fake-pop3.py SCENARIO TRANSCRIPT

Prints the port it listens on, then serves.  Every line the client sends
is appended to TRANSCRIPT (PASS's argument replaced), so a test can check
what the client did, and never did (RETR, DELE).

The maildrop holds fake-imap.py's three messages in another order than
IMAP's, with ids of its own, and one message IMAP never showed.

Scenarios:
    ok        as above; USER/PASS with "secret"
    dest      the same messages with the ids another server gives
    bad-pass  PASS is refused with [AUTH]
    in-use    PASS is refused with [IN-USE]
    no-uidl   UIDL is refused: the server keeps no unique ids
    no-top    CAPA does not offer TOP
    garbage   UIDL's answer is not POP3
    cut       the connection ends in the middle of UIDL's listing
    pipelining  as ok, with PIPELINING; the first TOP is answered only
              once three are in: a client that does not pipeline waits
"""

import importlib.util
import os
import sys

import fakesrv

spec = importlib.util.spec_from_file_location(
    'fake_imap', os.path.join(os.path.dirname(__file__), 'fake-imap.py'))
fake_imap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fake_imap)

NEW = b'From: n@example.org\r\nSubject: new\r\nMessage-ID: <new@x>\r\n\r\nnew\r\n'
# the maildrop, in POP3's order: (id, bytes)
DROP = [('u-3', fake_imap.MESSAGES[3]), ('u-new', NEW),
        ('u-1', fake_imap.MESSAGES[1]), ('u-2', fake_imap.MESSAGES[2])]


def header(body):
    end = body.find(b'\r\n\r\n')
    return body if end < 0 else body[:end + 4]


def stuffed(data):
    lines = data.split(b'\r\n')
    if lines and lines[-1] == b'':
        lines.pop()
    return b''.join((b'.' + l if l.startswith(b'.') else l) + b'\r\n'
                    for l in lines)


def main():
    scenario = sys.argv[1]
    c = fakesrv.Conn(sys.argv[2])
    f, send = c.f, c.send

    send('+OK fake POP3 ready\r\n')
    pending, waited = [], False
    while True:
        line = pending.pop(0) if pending else f.readline()
        if not line:
            break
        text = line.decode(errors='replace').rstrip('\r\n')
        cmd = text.split(' ')[0].upper()
        c.note('PASS ***' if cmd == 'PASS' else text)
        if cmd == 'CAPA':
            send('+OK\r\nUSER\r\nUIDL\r\n%s%sIMPLEMENTATION fake\r\n.\r\n'
                 % ('' if scenario == 'no-top' else 'TOP\r\n',
                    'PIPELINING\r\n' if scenario == 'pipelining' else ''))
        elif cmd == 'USER':
            send('+OK\r\n')
        elif cmd == 'PASS':
            if scenario == 'bad-pass' or text != 'PASS secret':
                send('-ERR [AUTH] Authentication failed.\r\n')
            elif scenario == 'in-use':
                send('-ERR [IN-USE] Mailbox is locked.\r\n')
            else:
                send('+OK Logged in.\r\n')
        elif cmd == 'UIDL' and scenario == 'dest':
            send('+OK\r\n' + ''.join('%d d%s\r\n' % (i + 1, u[1:]) for i, (u, _)
                                     in enumerate(DROP)) + '.\r\n')
        elif cmd == 'UIDL':
            if scenario == 'no-uidl':
                send('-ERR no unique ids here\r\n')
            elif scenario == 'garbage':
                send('* 1 FETCH (what?)\r\n')
            elif scenario == 'cut':
                send('+OK\r\n1 u-3\r\n2 u-n')
                c.close()
                return
            else:
                send('+OK\r\n' + ''.join('%d %s\r\n' % (i + 1, u) for i, (u, _)
                                         in enumerate(DROP)) + '.\r\n')
        elif cmd == 'LIST':
            send('+OK\r\n' + ''.join('%d %d\r\n' % (i + 1, len(b)) for i, (_, b)
                                     in enumerate(DROP)) + '.\r\n')
        elif cmd == 'TOP':
            if scenario == 'pipelining' and not waited:
                waited = True
                pending += [f.readline(), f.readline()]
                c.note('(%d TOPs in before the first answer)' %
                       (1 + sum(l.upper().startswith(b'TOP') for l in pending)))
            n = int(text.split(' ')[1])
            send(b'+OK\r\n' + stuffed(header(DROP[n - 1][1])) + b'.\r\n')
        elif cmd == 'QUIT':
            send('+OK bye\r\n')
            break
        else:
            send('-ERR what?\r\n')
    c.close()


main()
