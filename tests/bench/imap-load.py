#!/usr/bin/env python3
"""Load for the proxy benchmarks (tests/bench/proxy).  The password is the
first line of stdin.

    imap-load.py backend PORT
        an IMAP server that takes any login and then idles: the backend
        of the idle-session figures, cheap enough that only the proxy in
        front of it is measured
    imap-load.py hold PORT N USER [--tls CA]
        N sessions logged in through PORT, held until killed; prints
        "held N" once they are all in
    imap-load.py logins N USER PORT...
        N sequential connect, LOGIN, LOGOUT, close on each port, the ports
        taking turns so that a drift in the machine's load weighs on all
        alike: prints for each port the median and the 90th percentile in
        milliseconds, and logins per second
"""
import asyncio
import ssl
import statistics
import sys
import time


async def backend_session(reader, writer):
    writer.write(b"* OK [CAPABILITY IMAP4rev1 SASL-IR ID AUTH=PLAIN] "
                 b"load backend ready\r\n")
    try:
        while True:
            line = first = await reader.readline()
            if not line:
                break
            # a synchronizing literal (nginx sends its login so): the
            # command goes on after it; tag and name are in the first line
            while line.rstrip(b"\r\n").endswith(b"}"):
                n = int(line.rstrip(b"\r\n").rsplit(b"{", 1)[1][:-1]
                        .rstrip(b"+"))
                if not line.rstrip(b"\r\n").endswith(b"+}"):
                    writer.write(b"+ OK\r\n")
                    await writer.drain()
                await reader.readexactly(n)
                line = await reader.readline()
            line = first
            words = line.split(b" ", 2)
            tag = words[0]
            cmd = words[1].strip().upper() if len(words) > 1 else b""
            if cmd == b"AUTHENTICATE" and len(line.split()) == 3:
                writer.write(b"+ \r\n")
                await reader.readline()
            if cmd == b"ID":
                writer.write(b"* ID NIL\r\n")
            if cmd == b"CAPABILITY":
                writer.write(b"* CAPABILITY IMAP4rev1 SASL-IR ID "
                             b"AUTH=PLAIN\r\n")
            if cmd == b"LOGOUT":
                writer.write(b"* BYE bye\r\n" + tag + b" OK done\r\n")
                await writer.drain()
                break
            writer.write(tag + b" OK done\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    writer.close()


async def backend(port):
    server = await asyncio.start_server(backend_session, "127.0.0.1", port,
                                        backlog=4096)
    async with server:
        await server.serve_forever()


async def one_held(port, user, pw, ctx, sem):
    async with sem:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx,
            server_hostname="localhost" if ctx else None)
        await reader.readline()
        writer.write(b'a LOGIN "%s" "%s"\r\n' % (user.encode(),
                                                 pw.encode()))
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("closed during login")
            if line.startswith(b"a "):
                break
        if not line.startswith(b"a OK"):
            raise ConnectionError(line.decode())
    return writer


async def hold(port, n, user, pw, ca):
    ctx = ssl.create_default_context(cafile=ca) if ca else None
    sem = asyncio.Semaphore(200)
    writers = await asyncio.gather(*(one_held(port, user, pw, ctx, sem)
                                     for _ in range(n)))
    print("held", len(writers), flush=True)
    await asyncio.Event().wait()


def one_login(port, user, pw):
    import socket
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    f.readline()
    s.sendall(b'a LOGIN "%s" "%s"\r\nb LOGOUT\r\n' % (user.encode(),
                                                      pw.encode()))
    while not f.readline().startswith(b"b "):
        pass
    s.close()
    return (time.perf_counter() - t0) * 1000


def logins(n, user, pw, ports):
    times = {port: [] for port in ports}
    for _ in range(n):
        for port in ports:
            times[port].append(one_login(port, user, pw))
    for port in ports:
        t = sorted(times[port])
        print("%d median_ms %.3f p90_ms %.3f per_second %.1f" % (
            port, statistics.median(t), t[int(len(t) * 0.9)],
            n / (sum(t) / 1000)))


def main():
    mode = sys.argv[1]
    if mode == "backend":
        asyncio.run(backend(int(sys.argv[2])))
        return
    pw = sys.stdin.readline().rstrip("\n")
    if mode == "hold":
        ca = sys.argv[6] if len(sys.argv) > 6 and sys.argv[5] == "--tls" \
            else None
        asyncio.run(hold(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4],
                         pw, ca))
    elif mode == "logins":
        logins(int(sys.argv[2]), sys.argv[3], pw,
               [int(p) for p in sys.argv[4:]])


if __name__ == "__main__":
    main()
