#!/usr/bin/env python3
"""held-session: a user's open session through migrate-proxy at the
moment of a cutover.  Logs in, says which server answered, then waits in
IMAP IDLE (or, for POP3, a NOOP every few tenths of a second) until the
proxy closes the session; then logs in again at once, as a mail client
does, and says how long that login took and which server took it:

    ready SERVER
    closed
    relogin SERVER SECONDS

    held-session.py imap|pop3 PORT USER <pwfile

Plain TCP to the proxy on 127.0.0.1; the password is the first line of
standard input.  Gives up after 600 s."""

import imaplib
import poplib
import re
import sys
import time


imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))


def imap_server(m):
    typ, data = m._simple_command("ID", "NIL")
    typ, data = m._untagged_response(typ, data, "ID")
    name = re.search(rb'"name" "([^"]*)"', data[0] or b"", re.I)
    return name.group(1).decode() if name else "?"


def imap_login(port, user, pw):
    m = imaplib.IMAP4("127.0.0.1", port, timeout=600)
    m.login(user, pw)
    return m, imap_server(m)


def imap_wait(m):
    m.select("INBOX")
    m.send(b"idle1 IDLE\r\n")
    line = m.readline()
    assert line.startswith(b"+"), line
    while True:
        line = m.readline()
        if not line or line.startswith(b"* BYE"):
            return


def pop3_login(port, user, pw):
    p = poplib.POP3("127.0.0.1", port, timeout=600)
    p.user(user)
    p.pass_(pw)
    return p, " ".join(p.capa().get("IMPLEMENTATION", ["?"]))


def pop3_wait(p):
    deadline = time.time() + 600
    while time.time() < deadline:
        try:
            p.noop()
        except (poplib.error_proto, OSError, EOFError):
            return
        time.sleep(0.3)


def main():
    proto, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    pw = sys.stdin.readline().rstrip("\n")
    login, wait = (imap_login, imap_wait) if proto == "imap" else \
        (pop3_login, pop3_wait)
    conn, server = login(port, user, pw)
    print("ready", server, flush=True)
    try:
        wait(conn)
    except (OSError, EOFError, imaplib.IMAP4.abort):
        pass
    print("closed", flush=True)
    start = time.time()
    conn, server = login(port, user, pw)
    print("relogin %s %.2f" % (server, time.time() - start), flush=True)
    try:
        conn.logout() if proto == "imap" else conn.quit()
    except Exception:
        pass


if __name__ == "__main__":
    main()
