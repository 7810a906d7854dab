#!/usr/bin/env python3
"""Raw sessions with the proxy, for what a library client hides: the
capabilities offered before login, the words and the time of a refusal,
what comes before the close on a third failure, a user name that is not
UTF-8.  The password, when one is needed, is the first line of stdin.

    proxy-raw.py [--ca CA] [--bind ADDR] [--tls none|implicit] WHAT PORT
        [USER]

WHAT is one of:
  ehlo          the EHLO answer before login, a line each
  sievecaps     the ManageSieve greeting, a line each
  imap-fail3    three IMAP LOGINs with the password: every line the proxy
                sends until it closes
  pop3-fail3    the same with POP3 USER/PASS
  imap-timed    one IMAP LOGIN: "answer TEXT" (after the tag), "seconds T"
  imap-rawuser  LOGIN with USER given in hex as a literal, then LOGOUT
  smtp-fail     AUTH PLAIN refused, then the client just goes away
"""
import argparse
import base64
import socket
import ssl
import sys
import time


def connect(args):
    s = socket.create_connection(("127.0.0.1", args.port), timeout=30,
                                 source_address=(args.bind, 0) if args.bind
                                 else None)
    if args.tls == "implicit":
        c = ssl.create_default_context(cafile=args.ca)
        s = c.wrap_socket(s, server_hostname="localhost")
    return s, s.makefile("rb")


def line(f):
    return f.readline().decode("utf-8", "replace").rstrip("\r\n")


def until_close(f):
    out = []
    while True:
        got = f.readline()
        if not got:
            return out
        out.append(got.decode("utf-8", "replace").rstrip("\r\n"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ca")
    ap.add_argument("--bind")
    ap.add_argument("--tls", default="none")
    ap.add_argument("what")
    ap.add_argument("port", type=int)
    ap.add_argument("user", nargs="?")
    args = ap.parse_args()
    pw = sys.stdin.readline().rstrip("\n") if args.user else ""
    s, f = connect(args)
    w = args.what
    if w == "ehlo":
        line(f)
        s.sendall(b"EHLO client.example.org\r\n")
        while True:
            got = line(f)
            print(got)
            if got[3:4] != "-":
                break
        s.sendall(b"QUIT\r\n")
    elif w == "sievecaps":
        while True:
            got = line(f)
            print(got)
            if got.startswith(("OK", "NO", "BYE")):
                break
        s.sendall(b"LOGOUT\r\n")
    elif w == "imap-fail3":
        line(f)
        for i in range(3):
            s.sendall(b'a%d LOGIN "%s" "%s"\r\n' % (i, args.user.encode(),
                                                     pw.encode()))
        for got in until_close(f):
            print(got)
    elif w == "pop3-fail3":
        line(f)
        for i in range(3):
            s.sendall(b"USER %s\r\n" % args.user.encode())
            print(line(f))
            s.sendall(b"PASS %s\r\n" % pw.encode())
            print(line(f))
        for got in until_close(f):
            print(got)
    elif w == "imap-timed":
        line(f)
        t0 = time.monotonic()
        s.sendall(b'a LOGIN "%s" "%s"\r\n' % (args.user.encode(),
                                               pw.encode()))
        while True:
            got = line(f)
            if got.startswith("a "):
                break
        print("seconds %.3f" % (time.monotonic() - t0))
        print("answer", got[2:])
        s.sendall(b"a LOGOUT\r\n")
    elif w == "imap-rawuser":
        line(f)
        user = bytes.fromhex(args.user)
        s.sendall(b"a LOGIN {%d+}\r\n" % len(user) + user +
                  b' "%s"\r\n' % pw.encode())
        while not line(f).startswith("a "):
            pass
        s.sendall(b"b LOGOUT\r\n")
        until_close(f)
    elif w == "smtp-fail":
        line(f)
        s.sendall(b"EHLO client.example.org\r\n")
        while line(f)[3:4] == "-":
            pass
        msg = base64.b64encode(b"\0" + args.user.encode() + b"\0" +
                               pw.encode())
        s.sendall(b"AUTH PLAIN " + msg + b"\r\n")
        print(line(f))
    s.close()


if __name__ == "__main__":
    main()
