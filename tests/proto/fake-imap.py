#!/usr/bin/env python3
"""fake-imap: a scripted IMAP server on 127.0.0.1 for what real servers
never do.  Serves one connection, then exits.

    fake-imap.py SCENARIO TRANSCRIPT

Prints the port it listens on, then serves.  Every line the client sends
is appended to TRANSCRIPT (LOGIN's password replaced), so a test can check
what the client did, and never did (SELECT, BODY[] without PEEK).

Scenarios:
    ok            three messages in INBOX (one of 0 bytes, one whose
                  RFC822.SIZE is wrong), an empty folder, a folder name
                  that is not modified UTF-7, unsolicited responses
                  between FETCH responses
    cut-literal   the connection ends inside a message's literal
    long-literal  a literal carries more bytes than it announced
    garbage       a FETCH response that is not IMAP
    stall         no answer to FETCH, ever
    bad-password  LOGIN is refused
    bye           the greeting is BYE
    bad-examine   EXAMINE gets a tagged BAD
    append-no     APPEND: the literal is taken, then NO [OVERQUOTA]
    append-cut    APPEND: the connection ends inside the literal
    uidvalidity   SELECT answers UIDVALIDITY 43, not 42 (the folder was
                  made anew since it was pulled)
    acl           as ok, with the ACL extension: INBOX is shared with bob
                  and with "team mates", Empty with no one, and the ACL
                  of "Bad&Jjo" may not be read
"""

import sys

import fakesrv

MESSAGES = {
    1: b'From: a@example.org\r\nSubject: one\r\nMessage-ID: <1@x>\r\n\r\nhello\r\n',
    2: b'',
    3: b'From: c@example.org\r\nSubject: three\r\n\r\n' + b'x' * 70000 + b'\r\n',
}
FLAGS = {1: '\\Seen', 2: '', 3: '\\Flagged $Work'}
DATE = '"05-Mar-2024 10:11:12 +0100"'


def main():
    scenario, transcript = sys.argv[1], sys.argv[2]
    c = fakesrv.Conn(transcript)
    conn, f, log, send = c.sock, c.f, c.log, c.send

    if scenario == 'bye':
        send('* BYE too busy, try later\r\n')
        conn.close()
        return
    send('* OK fake IMAP ready\r\n')
    while True:
        line = f.readline()
        if not line:
            break
        text = line.decode(errors='replace').rstrip('\r\n')
        parts = text.split(' ')
        tag, cmd = parts[0], ' '.join(parts[1:2]).upper()
        if cmd == 'LOGIN':
            log.write('%s LOGIN %s ***\n' % (tag, parts[2]))
        else:
            log.write(text + '\n')
        log.flush()
        if cmd == 'CAPABILITY':
            send('* CAPABILITY IMAP4rev1 LITERAL+%s\r\n%s OK done\r\n'
                 % (' ACL' if scenario == 'acl' else '', tag))
        elif cmd == 'GETACL' and scenario == 'acl':
            if 'INBOX' in text:
                send('* ACL INBOX alice lrswipkxtecda bob lr "team mates"'
                     ' lrsw\r\n%s OK done\r\n' % tag)
            elif 'Empty' in text:
                send('* ACL Empty alice lrswipkxtecda\r\n%s OK done\r\n'
                     % tag)
            else:
                send('%s NO [NOPERM] You lack the administer right\r\n'
                     % tag)
        elif cmd == 'LOGIN':
            if scenario == 'bad-password' or parts[3] != '"secret"':
                send('%s NO [AUTHENTICATIONFAILED] Authentication failed.\r\n' % tag)
            else:
                send('%s OK Logged in\r\n' % tag)
        elif cmd == 'LIST':
            send('* LIST () "/" INBOX\r\n* LIST () "/" Empty\r\n'
                 '* LIST () "/" "Bad&Jjo"\r\n%s OK done\r\n' % tag)
        elif cmd == 'LSUB':
            send('* LSUB () "/" INBOX\r\n%s OK done\r\n' % tag)
        elif cmd in ('EXAMINE', 'SELECT'):
            if scenario == 'bad-examine':
                send('%s BAD what?\r\n' % tag)
                continue
            empty = 'Empty' in text or 'Bad' in text
            send('* %d EXISTS\r\n* OK [UIDVALIDITY %d] ok\r\n'
                 '* OK [UIDNEXT 4] ok\r\n%s OK [READ-ONLY] done\r\n'
                 % (0 if empty else 3, 43 if scenario == 'uidvalidity'
                    else 42, tag))
        elif cmd == 'UID' and 'BODY.PEEK[]' in text:
            fetch_bodies(scenario, tag, text, send)
            if scenario in ('cut-literal', 'stall'):
                if scenario == 'stall':
                    c.silent()
                conn.close()
                return
        elif cmd == 'UID' and 'FETCH' in text.upper():
            for uid in MESSAGES:
                send('* %d FETCH (UID %d FLAGS (%s) RFC822.SIZE %d '
                     'INTERNALDATE %s)\r\n' % (uid, uid, FLAGS[uid],
                                                len(MESSAGES[uid]), DATE))
            send('%s OK done\r\n' % tag)
        elif cmd == 'APPEND':
            size = int(text.rsplit('{', 1)[1].rstrip('+}'))
            send('+ go ahead\r\n')
            if scenario == 'append-cut':
                f.read(size // 2)
                conn.close()
                return
            f.read(size)
            f.readline()
            if scenario == 'append-no':
                send('%s NO [OVERQUOTA] Quota exceeded\r\n' % tag)
            else:
                send('%s OK [APPENDUID 42 4] done\r\n' % tag)
        elif cmd == 'LOGOUT':
            send('* BYE bye\r\n%s OK done\r\n' % tag)
            break
        else:
            send('%s BAD unknown command\r\n' % tag)
    conn.close()


def fetch_bodies(scenario, tag, text, send):
    if scenario == 'stall':
        return
    wanted = text.split(' ')[3]
    uids = []
    for part in wanted.split(','):
        a, _, b = part.partition(':')
        uids += range(int(a), int(b or a) + 1)
    for uid in uids:
        body = MESSAGES[uid]
        # the size the server claims for message 1 is wrong
        head = '* %d FETCH (UID %d FLAGS (%s) INTERNALDATE %s RFC822.SIZE %d BODY[] ' \
            % (uid, uid, FLAGS[uid], DATE, len(body) + (uid == 1))
        if scenario == 'cut-literal' and uid == 3:
            send(head + '{%d}\r\n' % len(body))
            send(body[:1000])
            return
        if scenario == 'long-literal' and uid == 3:
            send(head + '{%d}\r\n' % (len(body) - 10))
            send(body + b')\r\n')
            continue
        if scenario == 'garbage' and uid == 3:
            send('* 3 FETCH (UID 3 BODY[] "no end\r\n')
            continue
        send(head + '{%d}\r\n' % len(body))
        send(body + b')\r\n')
        if scenario == 'ok' and uid == 1:
            # what a server may say at any time
            send('* 3 EXISTS\r\n* 1 FETCH (FLAGS (\\Seen \\Answered))\r\n'
                 '* OK [ALERT] still here\r\n')
    send('%s OK done\r\n' % tag)


if __name__ == '__main__':
    main()
