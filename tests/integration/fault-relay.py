#!/usr/bin/python3
"""A TCP relay on loopback that injects one fault into the first
connections it carries, then relays faithfully.

    fault-relay.py --target HOST:PORT --port-file F [--fault KIND]
        [--after N] [--dir up|down|any] [--times K] [--rate BPS]
        [--span SECONDS] [--port PORT] [--log FILE] [--max-conns M]

KIND is one of:
  none     relay faithfully
  cut      close both sides once N bytes went the given way
  reset    the same, with a TCP reset (SO_LINGER 0) instead of a FIN
  stall    stop forwarding after N bytes, and keep both sides open
  trickle  forward at most BPS bytes a second after N bytes, for
           SECONDS (default 2), then at full speed again
  refuse   reset each new connection before a byte is relayed

With --max-conns, a connection beyond M open at once gets an IMAP
"* BYE [UNAVAILABLE]" greeting and is closed, as a server with a limit
of connections per client (Dovecot's mail_max_userip_connections)
answers; the log says "over the limit".

"up" counts what the client sends, "down" what the server sends. Only
the first K connections (default 1) get the fault: a retry that opens a
new connection finds a relay that works, as after a real outage. The
relay writes the port it listens on to the port file, and one line per
connection (its number, the fault, the bytes each way) to the log.
"""
import argparse
import asyncio
import os
import socket
import struct
import sys

CHUNK = 16384


def parse():
    p = argparse.ArgumentParser()
    p.add_argument('--target', required=True)
    p.add_argument('--port-file', required=True)
    p.add_argument('--fault', default='none', choices=(
        'none', 'cut', 'reset', 'stall', 'trickle', 'refuse'))
    p.add_argument('--after', type=int, default=0)
    p.add_argument('--dir', default='down', choices=('up', 'down', 'any'))
    p.add_argument('--times', type=int, default=1)
    p.add_argument('--rate', type=int, default=2048)
    p.add_argument('--span', type=float, default=2)
    p.add_argument('--port', type=int, default=0)
    p.add_argument('--log')
    p.add_argument('--max-conns', type=int, default=0)
    return p.parse_args()


def abort(writer):
    """Close with a reset: SO_LINGER 0 makes close() send an RST."""
    sock = writer.get_extra_info('socket')
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack('ii', 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class Conn:
    def __init__(self, relay, number, faulty):
        self.relay = relay
        self.number = number
        self.fault = relay.args.fault if faulty else 'none'
        self.bytes = {'up': 0, 'down': 0}
        self.fired = False
        self.trickle_end = None
        self.writers = []

    def counted(self, way):
        if self.relay.args.dir == 'any':
            return self.bytes['up'] + self.bytes['down']
        return self.bytes[way]

    def applies(self, way):
        d = self.relay.args.dir
        return d == 'any' or d == way

    async def pump(self, way, reader, writer):
        args = self.relay.args
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                if self.fired and self.fault == 'stall':
                    await asyncio.sleep(3600)
                if self.fault != 'none' and self.applies(way):
                    room = args.after - self.counted(way)
                    if room <= len(data) or self.fired:
                        data = await self.fire(way, data, max(room, 0),
                                               writer)
                        if data is None:
                            return
                self.bytes[way] += len(data)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            for w in self.writers:
                w.transport.abort()

    async def fire(self, way, data, room, writer):
        """The fault, once `room` more bytes may go: the data to relay,
        or None when this side is done."""
        args = self.relay.args
        head = data[:room]
        if head and not self.fired:
            self.bytes[way] += len(head)
            writer.write(head)
            await writer.drain()
        data = data[len(head):] if not self.fired else data
        if not self.fired:
            self.relay.note('conn %d: %s fired after %d bytes %s' % (
                self.number, self.fault, self.counted(way), way))
        self.fired = True
        if self.fault in ('cut', 'reset'):
            for w in self.writers:
                if self.fault == 'reset':
                    abort(w)
                else:
                    w.close()
            return None
        if self.fault == 'stall':
            await asyncio.sleep(3600)
            return None
        # trickle: a second per `rate` bytes, for `span` seconds
        if self.trickle_end is None:
            self.trickle_end = asyncio.get_running_loop().time() + args.span
        while data and asyncio.get_running_loop().time() < self.trickle_end:
            piece, data = data[:args.rate], data[args.rate:]
            self.bytes[way] += len(piece)
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(1)
        return data


class Relay:
    def __init__(self, args):
        self.args = args
        self.count = 0
        self.open = 0
        host, _, port = args.target.rpartition(':')
        self.target = (host, int(port))
        self.log = open(args.log, 'a', buffering=1) if args.log else None

    def note(self, line):
        if self.log:
            self.log.write(line + '\n')

    async def serve(self, creader, cwriter):
        self.count += 1
        number = self.count
        faulty = number <= self.args.times
        if self.args.max_conns and self.open >= self.args.max_conns:
            self.note('conn %d: over the limit of %d' % (
                number, self.args.max_conns))
            cwriter.write(b'* BYE [UNAVAILABLE] Too many connections'
                          b' from this address\r\n')
            await cwriter.drain()
            cwriter.close()
            return
        self.open += 1
        try:
            await self.relay(creader, cwriter, number, faulty)
        finally:
            self.open -= 1

    async def relay(self, creader, cwriter, number, faulty):
        if faulty and self.args.fault == 'refuse':
            self.note('conn %d: refused' % number)
            abort(cwriter)
            return
        try:
            sreader, swriter = await asyncio.open_connection(*self.target)
        except OSError as e:
            self.note('conn %d: target: %s' % (number, e))
            abort(cwriter)
            return
        c = Conn(self, number, faulty)
        c.writers = [cwriter, swriter]
        await asyncio.gather(c.pump('up', creader, swriter),
                             c.pump('down', sreader, cwriter))
        for w in c.writers:
            w.close()
        self.note('conn %d: %s%s, %d up, %d down' % (
            number, c.fault, ' (fired)' if c.fired else '',
            c.bytes['up'], c.bytes['down']))

    async def main(self):
        server = await asyncio.start_server(self.serve, '127.0.0.1',
                                            self.args.port, reuse_address=True)
        port = server.sockets[0].getsockname()[1]
        with open(self.args.port_file + '.tmp', 'w') as f:
            f.write('%d\n' % port)
        os.rename(self.args.port_file + '.tmp', self.args.port_file)
        async with server:
            await server.serve_forever()


if __name__ == '__main__':
    try:
        asyncio.run(Relay(parse()).main())
    except KeyboardInterrupt:
        sys.exit(0)
