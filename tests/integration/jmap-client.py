#!/usr/bin/env python3
"""jmap-client: an independent JMAP client for the tests (Python's own
urllib, nothing of migrate's), password on standard input.

    jmap-client.py dump URL USER
        every email in every mailbox: "path<TAB>sha256<TAB>flags", sorted;
        the path as migrate-archive(5) names a JMAP mailbox ("/" between
        levels, the inbox INBOX), the body downloaded and hashed, the
        keywords as lower-case IMAP flags, sorted
    jmap-client.py change URL USER
        what a user does: flag an email, rename a mailbox, make a mailbox
        and deliver a new email into it, and file an email in a second
        mailbox; prints what it did as JSON
    jmap-client.py destroy URL USER
        move an email to another mailbox and delete another for good
    jmap-client.py norm-ls
        `migrate-archive ls -r` on standard input in the form of dump
"""

import base64
import hashlib
import json
import sys
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

SYSTEM = {'$seen': '\\seen', '$flagged': '\\flagged',
          '$answered': '\\answered', '$draft': '\\draft'}


class Client:
    def __init__(self, url, user, password):
        self.auth = 'Basic ' + base64.b64encode(
            ('%s:%s' % (user, password)).encode()).decode()
        self.session = self.get(url + '/.well-known/jmap')
        for k in ('apiUrl', 'downloadUrl', 'uploadUrl'):
            self.session[k] = urllib.parse.urljoin(url + '/',
                                                   self.session[k])
        self.account = self.session['primaryAccounts'][
            'urn:ietf:params:jmap:mail']

    def request(self, url, data=None, ctype='application/json'):
        req = urllib.request.Request(url, data=data)
        req.add_header('Authorization', self.auth)
        if data is not None:
            req.add_header('Content-Type', ctype)
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.read()

    def get(self, url):
        return json.loads(self.request(url))

    def call(self, *calls):
        body = {'using': ['urn:ietf:params:jmap:core',
                          'urn:ietf:params:jmap:mail'],
                'methodCalls': [[n, dict(a, accountId=self.account), str(i)]
                                for i, (n, a) in enumerate(calls)]}
        r = json.loads(self.request(self.session['apiUrl'],
                                    json.dumps(body).encode()))
        out = [resp[1] for resp in r['methodResponses']]
        for (name, _), (rname, _, _) in zip(calls, r['methodResponses']):
            if rname == 'error':
                raise SystemExit('%s: %s' % (name, out))
        return out

    def mailboxes(self):
        return {m['id']: m for m in self.call(
            ('Mailbox/get', {'ids': None}))[0]['list']}

    def emails(self):
        ids = []
        while True:
            r = self.call(('Email/query', {'position': len(ids),
                                           'limit': 500}))[0]
            ids += r['ids']
            if not r['ids'] or len(ids) >= r.get('total', 0):
                break
        out = []
        for i in range(0, len(ids), 500):
            out += self.call(('Email/get', {
                'ids': ids[i:i + 500], 'properties': [
                    'id', 'blobId', 'mailboxIds', 'keywords',
                    'receivedAt', 'size']}))[0]['list']
        return out

    def download(self, blob):
        url = self.session['downloadUrl']
        for k, v in (('accountId', self.account), ('blobId', blob),
                     ('name', 'm.eml'), ('type', 'message/rfc822')):
            url = url.replace('{%s}' % k, urllib.request.quote(v, safe=''))
        return self.request(url)


def path(mbs, m):
    parts = []
    while m is not None:
        if m.get('role') == 'inbox' and not m.get('parentId'):
            parts.append('INBOX')
        else:
            parts.append(m['name'].replace('/', '_'))
        m = mbs.get(m.get('parentId'))
    return '/'.join(reversed(parts))


def flags(words):
    return ' '.join(sorted(SYSTEM.get(w.lower(), w.lower()) for w in words))


def dump(c):
    mbs = c.mailboxes()
    emails = c.emails()
    with ThreadPoolExecutor(8) as pool:
        hashes = list(pool.map(
            lambda e: hashlib.sha256(c.download(e['blobId'])).hexdigest(),
            emails))
    lines = []
    for e, h in zip(emails, hashes):
        kw = [k for k, v in e['keywords'].items()
              if v and not k.lower().startswith('$has')]
        for mb, v in e['mailboxIds'].items():
            if v:
                lines.append('%s\t%s\t%s' % (path(mbs, mbs[mb]), h,
                                             flags(kw)))
    print('\n'.join(sorted(lines)))


def by_name(mbs, name):
    return next(m for m in mbs.values() if m['name'] == name)


def change(c):
    mbs = c.mailboxes()
    other = sorted((m for m in mbs.values() if m.get('role') is None and
                    not m.get('parentId')), key=lambda m: m['name'])[0]
    emails = sorted((e for e in c.emails() if len(e['mailboxIds']) == 1 and
                     other['id'] not in e['mailboxIds']),
                    key=lambda e: e['id'])
    flag, copy = emails[0], emails[1]
    new = c.call(('Mailbox/set', {'create': {'n': {
        'name': 'From JMAP', 'parentId': None}}}))[0]['created']['n']['id']
    c.call(('Email/set', {'update': {
        flag['id']: {'keywords/$flagged': not flag['keywords'].get(
            '$flagged', False) or None},
        copy['id']: {'mailboxIds/' + new: True}}}),
        ('Mailbox/set', {'update': {other['id']: {
            'name': other['name'] + ' renamed'}}}))
    msg = (b'From: test@example.org\r\nTo: alice@example.org\r\n'
           b'Subject: delivered over JMAP\r\nMessage-ID: <jmap-new@test>\r\n'
           b'\r\nA new message.\r\n')
    blob = json.loads(c.request(c.session['uploadUrl'].replace(
        '{accountId}', c.account), msg, 'message/rfc822'))['blobId']
    c.call(('Email/import', {'emails': {'i': {
        'blobId': blob, 'mailboxIds': {new: True},
        'keywords': {'$seen': True},
        'receivedAt': '2026-12-01T10:00:00Z'}}}))
    print(json.dumps({'renamed': other['name'], 'flagged': flag['id']}))


def destroy(c):
    mbs = c.mailboxes()
    emails = sorted((e for e in c.emails() if len(e['mailboxIds']) == 1),
                    key=lambda e: e['id'])
    gone, move = emails[0], emails[1]
    to = next(m for m in sorted(mbs) if m not in move['mailboxIds'])
    c.call(('Email/set', {'update': {move['id']: {'mailboxIds': {to: True}}},
                          'destroy': [gone['id']]}))
    print(json.dumps({'destroyed': gone['id'], 'moved': move['id']}))


def norm_ls():
    lines = []
    for line in sys.stdin:
        f = line.rstrip('\n').split('\t')
        lines.append('%s\t%s\t%s' % (f[0], f[4], flags(f[5].split())))
    print('\n'.join(sorted(lines)))


def main():
    if sys.argv[1] == 'norm-ls':
        return norm_ls()
    c = Client(sys.argv[2], sys.argv[3], sys.stdin.readline().rstrip('\n'))
    {'dump': dump, 'change': change, 'destroy': destroy}[sys.argv[1]](c)


if __name__ == '__main__':
    main()
