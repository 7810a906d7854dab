#!/usr/bin/env python3
"""fake-sieve: a scripted ManageSieve server on 127.0.0.1 for what real
servers never do.  Serves one connection, then exits.

    fake-sieve.py SCENARIO TRANSCRIPT

Prints the port it listens on, then serves.  Every line the client sends
is appended to TRANSCRIPT (AUTHENTICATE's response replaced), and a
PUTSCRIPT's script too.

Scenarios:
    ok           three scripts: one named by a literal holding a quote and
                 a line break, one with a quote and UTF-8 in a quoted name
                 (the active one), one of 0 bytes; PUTSCRIPT answers NO
                 with its reason as a literal and a response code
    cut-literal  the connection ends inside GETSCRIPT's literal
    bad-literal  GETSCRIPT's literal announces a negative length
    bad-password AUTHENTICATE is refused
    bye          the greeting is BYE
    no-plain     SASL offers only SCRAM-SHA-1
"""

import base64
import sys

import fakesrv

SCRIPTS = [
    ('odd "one"\r\nname', b'keep;\r\n', False),
    ('Caf\u00e9 "active"', 'require "fileinto";\r\n# \u00e9t\u00e9\r\nfileinto "INBOX";\r\n'.encode(), True),
    ('empty', b'', False),
]


def quoted(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def main():
    scenario, transcript = sys.argv[1], sys.argv[2]
    c = fakesrv.Conn(transcript)
    conn, f, log, send = c.sock, c.f, c.log, c.send

    if scenario == 'bye':
        send('BYE "too busy, try later"\r\n')
        conn.close()
        return
    send('"IMPLEMENTATION" "fake"\r\n"SASL" "%s"\r\n"SIEVE" "fileinto"\r\n'
         '"VERSION" "1.0"\r\nOK "ready"\r\n'
         % ('SCRAM-SHA-1' if scenario == 'no-plain' else 'PLAIN LOGIN'))
    while True:
        line = f.readline()
        if not line:
            break
        text = line.decode(errors='replace').rstrip('\r\n')
        cmd = text.split(' ')[0].upper()
        if cmd == 'AUTHENTICATE':
            log.write('AUTHENTICATE "PLAIN" ***\n')
            b64 = text.split(' ')[2].strip('"')
            ok = base64.b64decode(b64).split(b'\0')[2] == b'secret'
            if scenario == 'bad-password' or not ok:
                send('NO (AUTH-TOO-WEAK) "Authentication failed"\r\n')
            else:
                send('OK "Logged in"\r\n')
            log.flush()
            continue
        log.write(text + '\n')
        if cmd == 'PUTSCRIPT' and text.endswith('+}'):
            n = int(text.rsplit('{', 1)[1][:-2])
            log.write(f.read(n).decode(errors='replace') + '\n')
            f.readline()
        log.flush()
        if cmd == 'LISTSCRIPTS':
            for name, body, active in SCRIPTS:
                if '\r' in name:
                    raw = name.encode()
                    send(b'{%d}\r\n%s' % (len(raw), raw))
                else:
                    send(quoted(name))
                send(' ACTIVE\r\n' if active else '\r\n')
            send('OK "done"\r\n')
        elif cmd == 'GETSCRIPT':
            if scenario == 'cut-literal':
                send('{100}\r\nrequire "fileinto";\r\n')
                conn.close()
                return
            if scenario == 'bad-literal':
                send('{-5}\r\nkeep;\r\nOK\r\n')
                continue
            if text.endswith('}'):
                n = int(text.rsplit('{', 1)[1].rstrip('+}'))
                name = f.read(n).decode()
                f.readline()
            else:
                name = text.split(' ', 1)[1][1:-1].replace('\\"', '"') \
                    .replace('\\\\', '\\')
            body = [b for s, b, a in SCRIPTS if s == name]
            if not body:
                send('NO (NONEXISTENT) "no such script"\r\n')
                continue
            send(b'{%d}\r\n%s\r\nOK "done"\r\n' % (len(body[0]), body[0]))
        elif cmd == 'PUTSCRIPT':
            reason = b'line 1: unknown extension\r\n"vnd.x" (sorry)'
            send(b'NO (QUOTA/MAXSIZE) {%d}\r\n%s\r\n' % (len(reason), reason))
        elif cmd == 'LOGOUT':
            send('OK "bye"\r\n')
            break
        else:
            send('OK "done"\r\n')
    conn.close()


if __name__ == '__main__':
    main()
