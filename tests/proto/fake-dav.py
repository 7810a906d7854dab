#!/usr/bin/env python3
"""fake-dav: a scripted CalDAV server on 127.0.0.1 for what real servers
never do (or do only when broken).  Serves until killed.

    fake-dav.py SCENARIO TRANSCRIPT

Prints the port it listens on, then serves.  Each request line is
appended to TRANSCRIPT, with its Authorization header's user.

The account is "alice" (password "secret"): principal /p/alice/, one
calendar /cal/alice/work/ with a.ics (CRLF, byte for byte), b.ics (not
iCalendar), c.ics (the same UID as a.ics), d.ics (an event without UID,
which Radicale would never serve); and bob's calendar
/cal/alice/bob-shared/, which bob owns and shares with her.

Scenarios:
    ok           as above; PUT of b.ics is refused (403 with a CalDAV
                 precondition), so is one without UID (403, as Cyrus
                 does), other PUTs take
    not-xml      PROPFIND answers 207 with a body that is not XML
    get-500      GET of c.ics answers 500
    get-503      GET of a.ics answers 503 (the server is busy)
    acl          as ok, and the work calendar is shared with bob (read),
                 carol (read, and she may change its sharing) and every
                 authenticated user (read) by an RFC 3744 ACL, as
                 Stalwart says it: no DAV:invite,
                 no DAV:share-access.  The ACL method replaces the grants
                 that its PROPFIND then answers (none at first); each
                 ACL body is appended to TRANSCRIPT.acl
"""

import base64
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

A = (b'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//fake//EN\r\n'
     b'BEGIN:VEVENT\r\nUID:same@x\r\nDTSTAMP:20240101T090000Z\r\n'
     b'DTSTART:20240101T100000Z\r\nDTEND:20240101T110000Z\r\n'
     b'SUMMARY:caf\xc3\xa9\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n')
B = b'this is not a calendar\n'
C = A.replace(b'caf\xc3\xa9', b'other')
D = A.replace(b'UID:same@x\r\n', b'').replace(b'caf\xc3\xa9', b'no uid')
ITEMS = {'a.ics': A, 'b.ics': B, 'c.ics': C, 'd.ics': D}
PUT = {}        # what was PUT, served back by GET
CAL = '/cal/alice/work/'
GRANTS = ['']   # the work calendar's ACL as the ACL method last set it


def ace(who, privs):
    return ('<D:ace><D:principal><D:href>%s</D:href></D:principal>'
            '<D:grant>%s</D:grant></D:ace>' %
            (who, ''.join('<D:privilege><D:%s/></D:privilege>' % p
                          for p in privs)))


def ms(responses):
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<D:multistatus xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav">' +
            ''.join('<D:response><D:href>%s</D:href><D:propstat><D:prop>%s'
                    '</D:prop><D:status>HTTP/1.1 200 OK</D:status>'
                    '</D:propstat></D:response>' % r for r in responses) +
            '</D:multistatus>').encode()


class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def body(self):
        n = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(n) if n else b''

    def send(self, code, data=b'', ctype='application/xml; charset=utf-8',
             etag=None):
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        if etag:
            self.send_header('ETag', etag)
        self.end_headers()
        self.wfile.write(data)

    def authed(self):
        auth = self.headers.get('Authorization', '')
        user = '-'
        ok = False
        if auth.startswith('Basic '):
            u, _, p = base64.b64decode(auth[6:]).decode().partition(':')
            user, ok = u, (u == 'alice' and p == 'secret')
        with open(sys.argv[2], 'a') as t:
            t.write('%s %s %s\n' % (self.command, self.path, user))
        if not ok:
            self.send(401, b'no')
        return ok

    def do_PROPFIND(self):
        body = self.body()
        if not self.authed():
            return
        if SCENARIO == 'not-xml':
            self.send(207, b'<html>surprise</html')
            return
        if b'current-user-principal' in body:
            self.send(207, ms([(self.path, '<D:current-user-principal>'
                                '<D:href>/p/alice/</D:href>'
                                '</D:current-user-principal>')]))
        elif b'calendar-home-set' in body:
            self.send(207, ms([(self.path, '<C:calendar-home-set><D:href>'
                                '/cal/alice/</D:href></C:calendar-home-set>'
                                )]))
        elif b'sync-token' in body:
            self.send(207, ms([(CAL, '<D:sync-token>t1</D:sync-token>')]))
        elif self.path == CAL and b'invite' in body:
            self.send(207, ms([(CAL, '<D:acl>%s%s</D:acl>' % (
                ace('/p/alice/', ['all']), GRANTS[0]))]))
        elif self.path == '/cal/alice/':
            acl = ('<D:acl>%s%s%s%s</D:acl>' % (
                ace('/p/alice/', ['all']), ace('http://x/p/bob/', ['read']),
                ace('/p/carol/', ['read', 'write-acl']),
                '<D:ace><D:principal><D:authenticated/></D:principal>'
                '<D:grant><D:privilege><D:read/></D:privilege></D:grant>'
                '</D:ace>') if SCENARIO == 'acl' else '')
            self.send(207, ms([(CAL, '<D:resourcetype><D:collection/>'
                                '<C:calendar/></D:resourcetype>'
                                '<D:displayname>Work</D:displayname>'
                                '<D:owner><D:href>/p/alice/</D:href>'
                                '</D:owner>' + acl),
                               ('/cal/alice/bob-shared/',
                                '<D:resourcetype><D:collection/>'
                                '<C:calendar/></D:resourcetype>'
                                '<D:displayname>Bob</D:displayname>'
                                '<D:owner><D:href>http://x/p/bob/</D:href>'
                                '</D:owner>')]))
        elif self.path == CAL:
            self.send(207, ms([(CAL + n, '<D:getetag>"%s%d"</D:getetag>'
                                % (n, len(v))) for n, v in ITEMS.items()]))
        else:
            self.send(404, b'')

    def do_REPORT(self):
        self.body()
        if self.authed():
            self.send(403, b'<error/>')

    def do_GET(self):
        if not self.authed():
            return
        name = self.path.rsplit('/', 1)[-1]
        if SCENARIO == 'get-500' and name == 'c.ics':
            self.send(500, b'broken')
        elif SCENARIO == 'get-503' and name == 'a.ics':
            self.send(503, b'busy')
        elif self.path in PUT:
            self.send(200, PUT[self.path], 'text/calendar; charset=utf-8')
        elif name in ITEMS:
            self.send(200, ITEMS[name], 'text/calendar; charset=utf-8',
                      '"%s%d"' % (name, len(ITEMS[name])))
        else:
            self.send(404, b'')

    def do_PUT(self):
        body = self.body()
        if not self.authed():
            return
        if self.path.endswith('b.ics'):
            self.send(403, b'<?xml version="1.0"?><D:error xmlns:D="DAV:" '
                      b'xmlns:C="urn:ietf:params:xml:ns:caldav">'
                      b'<C:valid-calendar-data/></D:error>')
        elif b'\nUID:' not in body:
            self.send(403, b'<?xml version="1.0"?><D:error xmlns:D="DAV:" '
                      b'xmlns:C="urn:ietf:params:xml:ns:caldav">'
                      b'<C:valid-calendar-object-resource/>'
                      b'<D:responsedescription>Missing UID property'
                      b'</D:responsedescription></D:error>')
        else:
            PUT[self.path] = body
            self.send(201, b'', etag='"new"')

    def do_ACL(self):
        body = self.body()
        if not self.authed():
            return
        with open(sys.argv[2] + '.acl', 'ab') as t:
            t.write(body + b'\n')
        text = body.decode()
        GRANTS[0] = ''.join(
            ace(h, ['read'] + (['write'] if '<D:write/>' in a else []))
            for h, a in ((x.split('</D:href>')[0], x)
                         for x in text.split('<D:href>')[1:]))
        self.send(200)

    def do_MKCALENDAR(self):
        self.body()
        if self.authed():
            self.send(201)


SCENARIO = sys.argv[1]
srv = ThreadingHTTPServer(('127.0.0.1', 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
