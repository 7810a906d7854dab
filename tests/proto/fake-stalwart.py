#!/usr/bin/env python3
"""fake-stalwart: a STAND-IN for Stalwart's management API, on 127.0.0.1.
Stalwart cannot run on the test machines; this follows its documentation
(stalw.art/docs/ref/object/account, .../auth/authentication/password, the
0.15 REST API on /api/principal) for what provision(8) uses, and nothing
more.  It is not Stalwart: a test passing here says the requests have the
documented shapes, not that a real server takes them.

    fake-stalwart.py SCENARIO STATE_FILE

Prints its port, then serves until killed.  After every change it writes
the accounts to STATE_FILE as JSON, for the test to read.

Credentials: Basic admin:adminpw, or Bearer tok-admin; Bearer tok-reader
may read but lacks sysAccountCreate.  Domains: example.org (id "b").

Scenarios:
    ok          as documented
    source      a Stalwart 0.15 to migrate from: two individuals and a
                group, listed by GET /api/principal?types=individual
    http500     the first request of each run answers HTTP 500
    lost        creates answer success but keep nothing (a server that
                loses a write)
"""

import base64
import json
import re
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCENARIO = sys.argv[1]
STATE_FILE = sys.argv[2]
LOCK = threading.Lock()
DOMAINS = {'b': 'example.org'}
# id -> account (current API) ; the 0.15 API keys by name
ACCOUNTS = {}
SEEN = {'requests': 0}


if SCENARIO == 'source':
    for p in [
        {'type': 'individual', 'name': 'dave', 'description': 'Dave Doe',
         'emails': ['dave@example.org', 'd.doe@example.org'],
         'secrets': ['$6$ctdVYLYmSSYd/br7$ZEthSI4CKIs5AQzl8LsQWA8r/0GhkVgqQzZnMJcqYI0zlsOYIpU46VJs6HyeuQrbnhE5D4DE13rrQAtEhtl2Q0'],
         'quota': 1073741824},
        {'type': 'individual', 'name': 'erin', 'emails': ['erin@example.org'],
         'secrets': ['{PLAIN}tiger123'], 'quota': 0},
        {'type': 'group', 'name': 'sales', 'emails': ['sales@example.org']},
    ]:
        ACCOUNTS['rest:' + p['name']] = p


def save():
    with open(STATE_FILE + '.new', 'w') as f:
        json.dump({'accounts': ACCOUNTS, 'requests': SEEN['requests']}, f)
    import os
    os.replace(STATE_FILE + '.new', STATE_FILE)


# Stalwart's is_password_hash(): what it stores as it is
B64 = re.compile(r'^[A-Za-z0-9+/]+=*$')


def b64len(s):
    if not B64.match(s):
        return -1
    try:
        return len(base64.b64decode(s + '=' * (-len(s) % 4)))
    except Exception:
        return -1


def is_password_hash(s):
    crypt = r'[A-Za-z0-9./]'
    if re.match(r'^\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[^$]+\$[^$]+$', s):
        return True
    if re.match(r'^\$2[abxy]\$\d\d\$' + crypt + '{53}$', s):
        return True
    if re.match(r'^\$1\$' + crypt + '{1,8}\$' + crypt + '{22}$', s):
        return True
    m = re.match(r'^\$([56])\$(rounds=\d+\$)?' + crypt + r'{1,16}\$(' + crypt + '+)$', s)
    if m:
        return len(m.group(3)) == (86 if m.group(1) == '6' else 43)
    m = re.match(r'^\{([A-Za-z0-9-]+)\}(.*)$', s)
    if m:
        scheme, body = m.group(1).upper(), m.group(2)
        want = {'SHA': (20, 20), 'SSHA': (21, 999), 'SHA256': (32, 32),
                'SSHA256': (33, 999), 'SHA512': (64, 64),
                'SSHA512': (65, 999), 'MD5': (16, 16)}
        if scheme in want:
            n = b64len(body)
            return want[scheme][0] <= n <= want[scheme][1]
        if scheme == 'CRYPT':
            return is_password_hash(body) or bool(re.match('^' + crypt + '{13}$', body))
    return False


def store_secret(secret):
    if secret[:1] in ('$', '{') and is_password_hash(secret):
        return secret
    if len(secret) < 4:
        return None             # the stand-in's password policy
    return 'HASHED-BY-SERVER:' + secret


class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def send(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def who(self):
        a = self.headers.get('Authorization', '')
        if a == 'Bearer tok-admin':
            return 'admin'
        if a == 'Bearer tok-reader':
            return 'reader'
        if a.startswith('Basic '):
            if base64.b64decode(a[6:]).decode() == 'admin:adminpw':
                return 'admin'
        return None

    def body(self):
        n = int(self.headers.get('Content-Length', 0))
        return json.loads(self.rfile.read(n)) if n else None

    def gate(self):
        with LOCK:
            SEEN['requests'] += 1
            first = SEEN['requests'] == 1
        if SCENARIO == 'http500' and first:
            self.send(500, {'error': 'internal'})
            return None
        who = self.who()
        if not who:
            self.send(401, {'type': 'about:blank', 'status': 401,
                            'title': 'Unauthorized'})
        return who

    # --- 0.15: REST ---------------------------------------------------
    def do_GET(self):
        who = self.gate()
        if not who:
            return
        u = urllib.parse.urlparse(self.path)
        if u.path == '/api/principal':
            q = urllib.parse.parse_qs(u.query)
            types = q.get('types', [''])[0].split(',')
            limit = int(q.get('limit', ['50'])[0])
            page = int(q.get('page', ['1'])[0])
            with LOCK:
                items = [p for k, p in sorted(ACCOUNTS.items())
                         if k.startswith('rest:') and
                         (not types[0] or p.get('type') in types)]
            return self.send(200, {'data': {
                'items': items[(page - 1) * limit:page * limit],
                'total': len(items)}})
        m = re.match(r'^/api/principal/(.+)$', self.path)
        if not m:
            return self.send(404, {'error': 'notFound'})
        name = urllib.parse.unquote(m.group(1))
        with LOCK:
            p = ACCOUNTS.get('rest:' + name)
        if not p:
            return self.send(404, {'error': 'notFound', 'item': name})
        self.send(200, {'data': p})

    def do_PATCH(self):
        who = self.gate()
        if not who:
            return
        if who != 'admin':
            return self.send(403, {'error': 'forbidden'})
        m = re.match(r'^/api/principal/(.+)$', self.path)
        name = urllib.parse.unquote(m.group(1)) if m else ''
        ops = self.body()
        with LOCK:
            p = ACCOUNTS.get('rest:' + name)
            if not p:
                return self.send(404, {'error': 'notFound', 'item': name})
            for op in ops:
                if op.get('action') != 'set' or 'field' not in op:
                    return self.send(400, {'error': 'invalidRequest'})
                p[op['field']] = op['value']
            save()
        self.send(200, {'data': None})

    def do_POST(self):
        who = self.gate()
        if not who:
            return
        if self.path == '/api/principal':
            return self.rest_create(who, self.body())
        if self.path == '/api':
            return self.jmap(who, self.body())
        self.send(404, {'error': 'notFound'})

    def rest_create(self, who, p):
        if who != 'admin':
            return self.send(403, {'error': 'forbidden'})
        if p.get('type') != 'individual' or not p.get('name'):
            return self.send(400, {'error': 'invalidRequest'})
        with LOCK:
            if 'rest:' + p['name'] in ACCOUNTS:
                return self.send(200, {'error': 'fieldAlreadyExists',
                                       'field': 'name', 'value': p['name']})
            if SCENARIO != 'lost':
                ACCOUNTS['rest:' + p['name']] = p
                save()
        self.send(200, {'data': len(ACCOUNTS)})

    # --- current: JMAP on /api ----------------------------------------
    def jmap(self, who, req):
        if 'urn:stalwart:jmap' not in req.get('using', []):
            return self.send(400, {'type': 'urn:ietf:params:jmap:error:unknownCapability'})
        out = []
        for name, args, cid in req['methodCalls']:
            out.append(self.method(who, name, args, cid))
        self.send(200, {'methodResponses': out, 'sessionState': '1'})

    def method(self, who, name, args, cid):
        if name == 'x:Domain/get':
            return [name, {'list': [{'id': k, 'name': v}
                                    for k, v in DOMAINS.items()],
                           'notFound': []}, cid]
        if name == 'x:Account/get':
            with LOCK:
                lst = [dict(a, id=k) for k, a in ACCOUNTS.items()
                       if not k.startswith('rest:')]
            return [name, {'list': lst, 'notFound': []}, cid]
        if name != 'x:Account/set':
            return ['error', {'type': 'unknownMethod'}, cid]
        if who != 'admin':
            return ['error', {'type': 'forbidden',
                              'description': 'sysAccountCreate'}, cid]
        res = {'created': {}, 'notCreated': {}, 'updated': {},
               'notUpdated': {}}
        with LOCK:
            for k, a in (args.get('create') or {}).items():
                why = self.check(a)
                if why:
                    res['notCreated'][k] = {'type': 'invalidProperties',
                                            'description': why}
                    continue
                if any(x.get('name') == a['name'] and
                       x.get('domainId') == a['domainId']
                       for x in ACCOUNTS.values()):
                    res['notCreated'][k] = {'type': 'alreadyExists'}
                    continue
                for c in a.get('credentials', []):
                    c['secret'] = store_secret(c['secret'])
                    if c['secret'] is None:
                        res['notCreated'][k] = {'type': 'invalidProperties',
                                                'description': 'password too weak'}
                        break
                if k in res['notCreated']:
                    continue
                nid = 'a%d' % (len(ACCOUNTS) + 1)
                if SCENARIO != 'lost':
                    ACCOUNTS[nid] = a
                res['created'][k] = {'id': nid}
            for k, patch in (args.get('update') or {}).items():
                if k not in ACCOUNTS:
                    res['notUpdated'][k] = {'type': 'notFound'}
                    continue
                for c in patch.get('credentials', []):
                    c['secret'] = store_secret(c['secret'])
                ACCOUNTS[k].update(patch)
                res['updated'][k] = None
            save()
        return [name, res, cid]

    @staticmethod
    def check(a):
        for f in ('@type', 'name', 'domainId', 'roles', 'permissions',
                  'encryptionAtRest'):
            if f not in a:
                return 'missing ' + f
        if a['@type'] != 'User' or a['domainId'] not in DOMAINS:
            return 'bad @type or domainId'
        if '@' in a['name']:
            return 'name is a local part'
        for al in a.get('aliases', []):
            if set(al) - {'name', 'domainId', 'enabled', 'description'}:
                return 'bad alias'
        return None


def main():
    srv = ThreadingHTTPServer(('127.0.0.1', 0), H)
    save()
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


main()
