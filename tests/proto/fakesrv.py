"""fakesrv: what the scripted line-protocol servers (fake-imap.py,
fake-sieve.py, fake-pop3.py) share: one connection on 127.0.0.1, its
port printed first, the transcript file, and a send() that tolerates a
client gone away (what it did is in the transcript)."""

import socket


class Conn:
    def __init__(self, transcript):
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(('127.0.0.1', 0))
        srv.listen(1)
        print(srv.getsockname()[1], flush=True)
        srv.settimeout(30)
        self.sock, _ = srv.accept()
        srv.close()
        self.f = self.sock.makefile('rb')
        self.log = open(transcript, 'w')

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        try:
            self.sock.sendall(data)
        except OSError:
            pass

    def note(self, line):
        self.log.write(line + '\n')
        self.log.flush()

    def silent(self, most=20):
        """Say nothing until the client goes away, `most` seconds at
        most."""
        self.sock.settimeout(most)
        try:
            while self.sock.recv(4096):
                pass
        except OSError:
            pass

    def close(self):
        self.sock.close()
