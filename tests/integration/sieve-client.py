#!/usr/bin/python3
"""sieve-client: python3-sievelib's ManageSieve client, for the tests to
check and change what a server holds independently of migrate's own code.
The password is the first line of stdin.

    sieve-client.py PORT USER list            "NAME" or "NAME ACTIVE" lines
    sieve-client.py PORT USER get NAME        the script's bytes
    sieve-client.py PORT USER put NAME FILE
    sieve-client.py PORT USER setactive NAME  ("" for none)
    sieve-client.py PORT USER delete NAME
"""
import sys

from sievelib.managesieve import Client


def main():
    port, user, cmd, args = int(sys.argv[1]), sys.argv[2], sys.argv[3], \
        sys.argv[4:]
    pw = sys.stdin.readline().rstrip("\n")
    c = Client("127.0.0.1", port)
    if not c.connect(user, pw, starttls=False, authmech="PLAIN"):
        sys.exit("sieve-client: login refused: %s" % c.errmsg)
    ok = True
    if cmd == "list":
        active, others = c.listscripts()
        for name in sorted(others + ([active] if active else [])):
            print(name + (" ACTIVE" if name == active else ""))
    elif cmd == "get":
        text = c.getscript(args[0])
        ok = text is not None
        if ok:
            sys.stdout.write(text)
    elif cmd == "put":
        ok = c.putscript(args[0], open(args[1]).read())
    elif cmd == "setactive":
        ok = c.setactive(args[0])
    elif cmd == "delete":
        ok = c.deletescript(args[0])
    c.logout()
    if not ok:
        sys.exit("sieve-client: %s refused: %s" % (cmd, c.errmsg))


if __name__ == "__main__":
    main()
