#!/usr/bin/env python3
"""fake-jmap: a scripted JMAP server (RFC 8620/8621, just what jmap-push
and jmap-pull use) on 127.0.0.1, for what a real one will not do on
demand.

    fake-jmap.py SCENARIO LOG

Prints its port, then serves until killed; GET /debug/count says how
many emails and which mailboxes the account holds.  Each request is logged to LOG
as one JSON line (method calls with the number of objects each carries;
uploads with their size), so a test can check batching.  The mail store
is in memory and lives as long as the process: several runs of jmap-push
see the same account.  Unlike Cyrus it never merges identical messages
(no alreadyExists), as a server may.  It keeps no history: Email/changes
and Mailbox/changes always answer cannotCalculateChanges, as a server
that has expired the state asked about does.

Scenarios:
    ok          small limits: maxSizeUpload 20000, maxObjectsInSet 2,
                maxCallsInRequest 2, maxConcurrentUpload 2
    http500     every API request fails with HTTP 500
    garbage     every API request gets HTML back
    ratelimit   the first two API requests get 429 with Retry-After: 1
    badpass     every request gets 401
    blobext     as ok, and offers urn:ietf:params:jmap:blob (RFC 9404):
                Blob/upload of many bodies in one request
    cutdownload as ok, but the first two downloads (of blobs of more than
                one byte) stop half way and the connection closes
    share       as ok, and offers JMAP Mail Sharing
                (urn:ietf:params:jmap:mail:share, for the account) and
                principals: Principal/query by email knows bob@example.org
                only; GET /debug/share gives each mailbox's shareWith
"""
SHARE = 'urn:ietf:params:jmap:mail:share'
PRINCIPALS = 'urn:ietf:params:jmap:principals'
RIGHTS = ('mayReadItems', 'mayAddItems', 'mayRemoveItems', 'mayCreateChild',
          'mayRename', 'mayDelete', 'maySubmit', 'maySetSeen',
          'maySetKeywords', 'mayShare')

import base64
import hashlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCENARIO = sys.argv[1]
LOG = open(sys.argv[2], 'a')
LOCK = threading.RLock()
ACCOUNT = 'u1'
STATE = {
    'mailboxes': {'mb-inbox': {'id': 'mb-inbox', 'name': 'Inbox',
                               'parentId': None, 'role': 'inbox',
                               'isSubscribed': True}},
    'blobs': {},
    'emails': {},
    'api_calls': 0,
    'downloads_cut': 0,
    'next': 1,
}


def log(obj):
    with LOCK:
        LOG.write(json.dumps(obj) + '\n')
        LOG.flush()


def new_id(prefix):
    STATE['next'] += 1
    return '%s%d' % (prefix, STATE['next'])


def session(base):
    caps = {}
    if SCENARIO == 'blobext':
        caps['urn:ietf:params:jmap:blob'] = {'maxSizeBlobSet': 1000000,
                                             'maxDataSources': 16,
                                             'supportedTypeNames': ['Email'],
                                             'supportedDigestAlgorithms': []}
    acaps = {'urn:ietf:params:jmap:mail': {}}
    if SCENARIO == 'share':
        caps[PRINCIPALS] = {}
        acaps[SHARE] = {}
    return {
        'capabilities': dict(caps, **{
            'urn:ietf:params:jmap:core': {
                'maxSizeUpload': 20000, 'maxConcurrentUpload': 2,
                'maxSizeRequest': 10000000, 'maxConcurrentRequests': 4,
                'maxCallsInRequest': 2, 'maxObjectsInGet': 100,
                'maxObjectsInSet': 2, 'collationAlgorithms': []},
            'urn:ietf:params:jmap:mail': {}}),
        'accounts': {ACCOUNT: {'name': 'u1', 'isPersonal': True,
                               'accountCapabilities': acaps}},
        'primaryAccounts': {'urn:ietf:params:jmap:mail': ACCOUNT},
        'username': 'u1',
        'apiUrl': base + '/api/',
        'uploadUrl': base + '/upload/{accountId}/',
        'downloadUrl': base + '/download/{accountId}/{blobId}/{name}',
        'eventSourceUrl': base + '/events/',
        'state': '1'}


def mailbox_set(args, using):
    out = {'accountId': ACCOUNT, 'created': {}, 'updated': {},
           'notCreated': {}, 'notUpdated': {}}
    for cid, props in (args.get('create') or {}).items():
        if '\\' in props.get('name', ''):
            out['notCreated'][cid] = {'type': 'invalidProperties',
                                      'description': 'no backslash'}
            continue
        mid = new_id('mb')
        STATE['mailboxes'][mid] = dict(props, id=mid)
        out['created'][cid] = {'id': mid}
    for mid, props in (args.get('update') or {}).items():
        bad = share_invalid(props, using)
        if bad:
            out['notUpdated'][mid] = {'type': 'invalidProperties',
                                      'properties': bad}
            continue
        STATE['mailboxes'][mid].update(props)
        out['updated'][mid] = None
    return out


def share_invalid(props, using):
    """What is wrong with a shareWith, as a server of the draft says."""
    if 'shareWith' not in props:
        return None
    if SCENARIO != 'share' or SHARE not in using:
        return ['shareWith']
    bad = []
    for who, rights in (props['shareWith'] or {}).items():
        if who != 'p-bob':
            bad.append('shareWith/' + who)
        bad += ['shareWith/%s/%s' % (who, r) for r in rights
                if r not in RIGHTS]
    return bad or None


def principal_query(args):
    email = (args.get('filter') or {}).get('email')
    return {'accountId': ACCOUNT, 'queryState': '1', 'position': 0,
            'ids': ['p-bob'] if email == 'bob@example.org' else []}


def email_import(args):
    out = {'accountId': ACCOUNT, 'created': {}, 'notCreated': {}}
    for cid, e in args['emails'].items():
        blob = STATE['blobs'].get(e['blobId'])
        if blob is None:
            out['notCreated'][cid] = {'type': 'blobNotFound'}
            continue
        eid = new_id('e')
        STATE['emails'][eid] = {
            'id': eid, 'blobId': e['blobId'], 'size': len(blob),
            'mailboxIds': e['mailboxIds'], 'keywords': e.get('keywords', {}),
            'receivedAt': e.get('receivedAt')}
        out['created'][cid] = {'id': eid, 'blobId': e['blobId'],
                               'size': len(blob)}
    return out


def email_set(args):
    out = {'accountId': ACCOUNT, 'updated': {}, 'destroyed': [],
           'notUpdated': {}}
    for eid, patch in (args.get('update') or {}).items():
        e = STATE['emails'].get(eid)
        if e is None:
            out['notUpdated'][eid] = {'type': 'notFound'}
            continue
        for path, value in patch.items():
            if '/' in path:
                prop, key = path.split('/', 1)
                key = key.replace('~1', '/').replace('~0', '~')
                if value is None:
                    e[prop].pop(key, None)
                else:
                    e[prop][key] = value
            else:
                e[path] = value
        out['updated'][eid] = None
    for eid in args.get('destroy') or []:
        if STATE['emails'].pop(eid, None):
            out['destroyed'].append(eid)
    return out


def email_query(args):
    f = args.get('filter') or {}
    ids = []
    for e in STATE['emails'].values():
        if 'inMailbox' in f and f['inMailbox'] not in e['mailboxIds']:
            continue
        if 'minSize' in f and e['size'] < f['minSize']:
            continue
        if 'maxSize' in f and e['size'] > f['maxSize']:
            continue
        if 'after' in f and (e['receivedAt'] or '') < f['after']:
            continue
        if 'before' in f and (e['receivedAt'] or '') >= f['before']:
            continue
        ids.append(e['id'])
    pos = args.get('position', 0)
    lim = args.get('limit', len(ids))
    return {'accountId': ACCOUNT, 'ids': ids[pos:pos + lim],
            'total': len(ids), 'position': pos, 'queryState': '1'}


def blob_upload(args, using):
    out = {'accountId': ACCOUNT, 'created': {}, 'notCreated': {}}
    if 'urn:ietf:params:jmap:blob' not in using:
        return None
    for cid, b in args['create'].items():
        data = b''
        for part in b['data']:
            if 'data:asBase64' in part:
                data += base64.b64decode(part['data:asBase64'])
            else:
                data += part['data:asText'].encode()
        if len(data) > 20000:
            out['notCreated'][cid] = {'type': 'tooLarge'}
            continue
        bid = 'B' + hashlib.sha1(data).hexdigest()
        STATE['blobs'][bid] = data
        out['created'][cid] = {'id': bid, 'type': b.get('type'),
                               'size': len(data)}
    return out


def resolve(args, results):
    for k in list(args):
        if k.startswith('#'):
            ref = args.pop(k)
            args[k[1:]] = results[ref['resultOf']]['ids']
    return args


def api(body):
    req = json.loads(body)
    responses, results = [], {}
    calls = req['methodCalls']
    log({'request': [[c[0], len((c[1].get('emails') or c[1].get('update') or
                                 c[1].get('create') or {}))] for c in calls],
         'size': len(body)})
    for name, args, cid in calls:
        args = resolve(args, results)
        if name == 'Mailbox/get' and SCENARIO in ('unavailable', 'badargs'):
            name, r = 'error', {
                'type': ('serverUnavailable' if SCENARIO == 'unavailable'
                         else 'invalidArguments'),
                'description': 'as the scenario says'}
        elif name == 'Mailbox/get':
            r = {'accountId': ACCOUNT, 'state': '1',
                 'list': list(STATE['mailboxes'].values()), 'notFound': []}
        elif name == 'Mailbox/set':
            r = mailbox_set(args, req['using'])
        elif (name == 'Principal/query' and SCENARIO == 'share' and
              PRINCIPALS in req['using']):
            r = principal_query(args)
        elif name == 'Email/import':
            r = email_import(args)
        elif name == 'Email/set':
            r = email_set(args)
        elif name == 'Email/query':
            r = email_query(args)
        elif name == 'Blob/upload' and SCENARIO == 'blobext':
            r = blob_upload(args, req['using'])
            if r is None:
                name, r = 'error', {'type': 'unknownMethod'}
        elif name in ('Email/changes', 'Mailbox/changes'):
            name, r = 'error', {'type': 'cannotCalculateChanges'}
        elif name == 'Email/get':
            r = {'accountId': ACCOUNT, 'state': '1', 'notFound': [],
                 'list': [STATE['emails'][i] for i in args['ids']
                          if i in STATE['emails']]}
        else:
            name, r = 'error', {'type': 'unknownMethod'}
        results[cid] = r
        responses.append([name, r, cid])
    return {'methodResponses': responses, 'sessionState': '1'}


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def reply(self, code, body, ctype='application/json', extra=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        auth = self.headers.get('Authorization', '')
        if SCENARIO != 'badpass' and auth == 'Bearer t0ken':
            return True
        if SCENARIO == 'badpass' or not auth.startswith('Basic '):
            self.reply(401, {'type': 'unauthorized'},
                       extra={'WWW-Authenticate': 'Basic realm="x"'})
            return False
        user, _, pw = base64.b64decode(auth[6:]).decode().partition(':')
        if pw != 'secret':
            self.reply(401, {'type': 'unauthorized'})
            return False
        return True

    def base(self):
        return 'http://127.0.0.1:%d' % self.server.server_address[1]

    def do_GET(self):
        if self.path == '/debug/count':
            self.reply(200, {'emails': len(STATE['emails']),
                             'mailboxes': sorted(m['name'] for m in
                                                 STATE['mailboxes'].values())})
            return
        if self.path == '/debug/share':
            self.reply(200, {m['name']: m.get('shareWith') for m in
                             STATE['mailboxes'].values()})
            return
        if not self.authorized():
            return
        if self.path == '/.well-known/jmap':
            self.reply(301, b'', extra={'Location': '/session'})
        elif self.path == '/session':
            self.reply(200, session(self.base()))
        elif self.path.startswith('/download/'):
            blob = STATE['blobs'].get(self.path.split('/')[3])
            if blob is None:
                self.reply(404, {'type': 'notFound'})
            elif (SCENARIO == 'cutdownload' and len(blob) > 1 and
                  STATE['downloads_cut'] < 2):
                STATE['downloads_cut'] += 1
                self.send_response(200)
                self.send_header('Content-Type', 'message/rfc822')
                self.send_header('Content-Length', str(len(blob)))
                self.end_headers()
                self.wfile.write(blob[:len(blob) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
            else:
                self.reply(200, blob, 'message/rfc822')
        else:
            self.reply(404, {'type': 'notFound'})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        if not self.authorized():
            return
        if self.path.startswith('/upload/'):
            log({'upload': len(body)})
            if len(body) > 20000:
                self.reply(413, {'type': 'urn:ietf:params:jmap:error:limit',
                                 'limit': 'maxSizeUpload'})
                return
            bid = 'B' + hashlib.sha1(body).hexdigest()
            STATE['blobs'][bid] = body
            self.reply(201, {'accountId': ACCOUNT, 'blobId': bid,
                             'type': 'message/rfc822', 'size': len(body)})
            return
        with LOCK:
            STATE['api_calls'] += 1
            n = STATE['api_calls']
        if SCENARIO == 'http500':
            self.reply(500, b'internal error', 'text/plain')
        elif SCENARIO == 'garbage':
            self.reply(200, b'<html>oops</html>', 'text/html')
        elif SCENARIO == 'ratelimit' and n <= 2:
            self.reply(429, {'type': 'urn:ietf:params:jmap:error:limit'},
                       extra={'Retry-After': '1'})
        else:
            with LOCK:
                self.reply(200, api(body))


def main():
    srv = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == '__main__':
    main()
