#!/usr/bin/env python3
"""imap-change: change a source account the way its user would between two
passes, so a delta pull has something to find.  Prints what it did as one
JSON object.

    imap-change.py --ca FILE host port user <pwfile

In INBOX: appends 10 new messages, sets \\Flagged on 7 messages and clears
\\Seen on 3 others.  In Sent: expunges 3 messages.  Renames the folder
"Reports.2024" to "Reports 2024".  Deletes and recreates "Junk" with the
same messages (same bytes, flags and dates): a new UIDVALIDITY."""

import email.utils
import imaplib
import json
import re
import ssl
import sys


def check(res):
    typ, data = res
    assert typ == 'OK', data
    return data


def uids_flags(imap):
    data = check(imap.uid('FETCH', '1:*', '(UID FLAGS)'))
    out = []
    for item in data:
        if not item:
            continue
        m = re.search(rb'UID (\d+) FLAGS \(([^)]*)\)', item)
        out.append((int(m.group(1)), m.group(2).decode().split()))
    return out


def main():
    ca = sys.argv[2]
    host, port, user = sys.argv[3:6]
    password = sys.stdin.readline().rstrip('\n')
    imap = imaplib.IMAP4(host, int(port))
    imap.starttls(ssl.create_default_context(cafile=ca))
    imap.login(user, password)
    did = {}

    for i in range(10):
        msg = ('From: new%d@example.org\r\nTo: %s\r\nSubject: new %d\r\n'
               'Date: %s\r\nMessage-ID: <delta-%d@example.org>\r\n\r\n'
               'a new message, number %d\r\n' % (
                   i, user, i, email.utils.formatdate(), i, i)).encode()
        check(imap.append('INBOX', '(\\Seen $Delta)', None, msg))
    did['appended'] = 10

    check(imap.select('INBOX'))
    flagged = unseen = 0
    for uid, flags in uids_flags(imap):
        if flagged < 7 and '\\Flagged' not in flags and '$Delta' not in flags:
            check(imap.uid('STORE', str(uid), '+FLAGS', '(\\Flagged)'))
            flagged += 1
        elif unseen < 3 and '\\Seen' in flags and '\\Flagged' not in flags \
                and '$Delta' not in flags:
            check(imap.uid('STORE', str(uid), '-FLAGS', '(\\Seen)'))
            unseen += 1
    did['flag_changes'] = flagged + unseen

    check(imap.select('Sent'))
    gone = [uid for uid, _ in uids_flags(imap)][:3]
    for uid in gone:
        check(imap.uid('STORE', str(uid), '+FLAGS', '(\\Deleted)'))
    check(imap.expunge())
    did['expunged'] = len(gone)

    check(imap.rename('Reports.2024', '"Reports 2024"'))
    did['renamed'] = ['Reports.2024', 'Reports 2024']

    check(imap.select('Junk', readonly=True))
    data = check(imap.uid('FETCH', '1:*', '(FLAGS INTERNALDATE BODY.PEEK[])'))
    saved = []
    for item in data:
        if isinstance(item, tuple):
            flags = re.search(rb'FLAGS \(([^)]*)\)', item[0]).group(1)
            date = re.search(rb'INTERNALDATE ("[^"]+")', item[0]).group(1)
            saved.append((flags.decode(), date.decode(), item[1]))
    check(imap.close())
    check(imap.delete('Junk'))
    check(imap.create('Junk'))
    with_mid = 0
    for flags, date, body in saved:
        fl = ' '.join(f for f in flags.split() if f != '\\Recent')
        check(imap.append('Junk', '(%s)' % fl, date, body))
        if re.search(rb'(?im)^message-id:', body.split(b'\r\n\r\n')[0]):
            with_mid += 1
    check(imap.subscribe('Junk'))
    did['recreated'] = 'Junk'
    did['junk'] = len(saved)
    did['junk_with_message_id'] = with_mid
    imap.logout()
    print(json.dumps(did))


if __name__ == '__main__':
    main()
