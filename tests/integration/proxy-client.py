#!/usr/bin/env python3
"""A mail client for the proxy's tests: one session of one protocol, with
Python's own imaplib, poplib and smtplib (ManageSieve has no module: a
socket).  The password is the first line of stdin, never an argument.

    proxy-client.py [--ca CA] [--bind ADDR] [--auth plain|login]
        PROTOCOL PORT TLS USER

PROTOCOL is imap, pop3, sieve or smtp; TLS none, starttls or implicit.
Prints what it saw as "key value" lines: login OK|NO text, server (the
implementation that answered after login), and what the real operation
gave (a FETCH, a RETR, a PUTSCRIPT, a message submitted).  Exits 0 when
the session ran its course (a refused login included), 1 on an error.
"""
import argparse
import base64
import imaplib
import poplib
import re
import smtplib
import socket
import ssl
import sys


def ctx(args):
    c = ssl.create_default_context(cafile=args.ca)
    return c


def sock(args):
    s = socket.create_connection(("127.0.0.1", args.port), timeout=20,
                                 source_address=(args.bind, 0) if args.bind
                                 else None)
    if args.tls == "implicit":
        s = ctx(args).wrap_socket(s, server_hostname="localhost")
    return s


def plain(user, pw):
    return base64.b64encode(b"\0" + user.encode() + b"\0" +
                            pw.encode()).decode()


imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))


def imap(args, pw):
    class Conn(imaplib.IMAP4):
        def _create_socket(self, timeout):
            return sock(args)
    if args.tls == "implicit":
        class Conn(imaplib.IMAP4_SSL):
            def _create_socket(self, timeout):
                return sock(args)
        m = Conn("localhost", args.port, ssl_context=ctx(args))
    else:
        m = Conn("127.0.0.1", args.port)
    if args.tls == "starttls":
        m.starttls(ctx(args))
    try:
        if args.auth == "plain":
            m.authenticate("PLAIN", lambda _: b"\0" + args.user.encode() +
                           b"\0" + pw.encode())
        elif args.auth == "login":
            state = [args.user, pw]
            m.authenticate("LOGIN", lambda _: state.pop(0).encode())
        else:
            m.login(args.user, pw)
    except imaplib.IMAP4.error as e:
        print("login NO", e)
        return
    print("login OK")
    typ, data = m._simple_command("ID", "NIL")
    typ, data = m._untagged_response(typ, data, "ID")
    name = re.search(rb'"name" "([^"]*)"', data[0] or b"", re.I)
    print("server", name.group(1).decode() if name else "?")
    typ, data = m.select("INBOX", readonly=True)
    print("exists", int(data[0]))
    if int(data[0]):
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        print("fetch", len(data[0][1]))
    typ, data = m.logout()
    print("logout", typ)


def pop3(args, pw):
    class Conn(poplib.POP3):
        def _create_socket(self, timeout):
            return sock(args)
    if args.tls == "implicit":
        class Conn(poplib.POP3_SSL):
            def _create_socket(self, timeout):
                return sock(args)
        p = Conn("localhost", args.port, context=ctx(args))
    else:
        p = Conn("127.0.0.1", args.port)
    if args.tls == "starttls":
        p.stls(ctx(args))
    try:
        if args.auth == "plain":
            p._shortcmd("AUTH PLAIN " + plain(args.user, pw))
        else:
            p.user(args.user)
            p.pass_(pw)
    except poplib.error_proto as e:
        print("login NO", e)
        return
    print("login OK")
    capa = p.capa()
    print("server", " ".join(capa.get("IMPLEMENTATION", ["?"])))
    count, size = p.stat()
    print("stat", count)
    if count:
        resp, lines, octets = p.retr(1)
        print("retr", octets)
    print("quit", p.quit().decode().split()[0])


class Sieve:
    def __init__(self, args):
        self.s = sock(args)
        self.f = self.s.makefile("rb")
        self.args = args

    def send(self, data):
        self.s.sendall(data.encode() if isinstance(data, str) else data)

    def answer(self):
        """Lines up to OK/NO/BYE: (the lines, the last)."""
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError("connection closed")
            line = line.decode().rstrip("\r\n")
            if re.match(r"(OK|NO|BYE)\b", line):
                return lines, line
            lines.append(line)

    def starttls(self):
        self.send("STARTTLS\r\n")
        _, last = self.answer()
        if not last.startswith("OK"):
            raise RuntimeError("STARTTLS: " + last)
        self.s = ctx(self.args).wrap_socket(self.s,
                                            server_hostname="localhost")
        self.f = self.s.makefile("rb")
        return self.answer()


def sieve(args, pw):
    c = Sieve(args)
    c.answer()
    if args.tls == "starttls":
        c.starttls()
    if args.auth == "login":
        c.send('AUTHENTICATE "LOGIN"\r\n')
        for v in (args.user, pw):
            c.f.readline()
            c.send('"%s"\r\n' % base64.b64encode(v.encode()).decode())
    else:
        ir = plain(args.user, pw)
        c.send('AUTHENTICATE "PLAIN" {%d+}\r\n%s\r\n' % (len(ir), ir))
    _, last = c.answer()
    if not last.startswith("OK"):
        print("login NO", last)
        return
    print("login OK")
    c.send("CAPABILITY\r\n")
    lines, _ = c.answer()
    impl = [l for l in lines if l.upper().startswith('"IMPLEMENTATION"')]
    print("server", impl[0].split('"')[3] if impl else "?")
    script = 'require "fileinto";\r\nif header :contains "subject" ' \
        '"proxy" { fileinto "INBOX"; }\r\n'
    c.send('PUTSCRIPT "proxytest" {%d+}\r\n%s\r\n' % (len(script), script))
    _, last = c.answer()
    print("putscript", last.split()[0])
    c.send('LISTSCRIPTS\r\n')
    lines, _ = c.answer()
    print("scripts", " ".join(sorted(l.split('"')[1] for l in lines)))
    c.send('DELETESCRIPT "proxytest"\r\n')
    c.answer()
    c.send("LOGOUT\r\n")
    _, last = c.answer()
    print("logout", last.split()[0])


def smtp(args, pw):
    class Conn(smtplib.SMTP):
        def _get_socket(self, host, port, timeout):
            return sock(args)
    if args.tls == "implicit":
        class Conn(smtplib.SMTP_SSL):
            def _get_socket(self, host, port, timeout):
                return sock(args)
        s = Conn("localhost", args.port, context=ctx(args))
    else:
        s = Conn("127.0.0.1", args.port)
    s.ehlo("client.example.net")
    if args.tls == "starttls":
        s.starttls(context=ctx(args))
        s.ehlo("client.example.net")
    try:
        if args.auth == "plain":
            code, text = s.docmd("AUTH", "PLAIN " + plain(args.user, pw))
            if code != 235:
                raise smtplib.SMTPAuthenticationError(code, text)
        else:
            s.login(args.user, pw)
    except smtplib.SMTPAuthenticationError as e:
        print("login NO", e.smtp_code, e.smtp_error.decode())
        return
    print("login OK")
    msg = ("From: %s\r\nTo: alice@example.org\r\nSubject: through the "
           "proxy\r\n\r\nHello.\r\n" % args.user)
    refused = s.sendmail(args.user, ["alice@example.org"], msg)
    print("sent", "OK" if not refused else refused)
    print("quit", s.quit()[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ca")
    ap.add_argument("--bind")
    ap.add_argument("--auth", choices=["plain", "login"])
    ap.add_argument("protocol", choices=["imap", "pop3", "sieve", "smtp"])
    ap.add_argument("port", type=int)
    ap.add_argument("tls", choices=["none", "starttls", "implicit"])
    ap.add_argument("user")
    args = ap.parse_args()
    pw = sys.stdin.readline().rstrip("\n")
    try:
        globals()[args.protocol](args, pw)
    except Exception as e:
        print("error", type(e).__name__, e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
