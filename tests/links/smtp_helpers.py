"""A real SMTP server on loopback that accepts the connection and then refuses
every recipient (550), as a mail server does for a mailbox it rejects."""

import socketserver
import threading
from contextlib import contextmanager


class _RefusingHandler(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.reply("220 refusing.test ESMTP")
        for raw in self.rfile:
            verb = raw[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.reply("250 refusing.test")
            elif verb == b"RCPT":
                self.server.refused += 1
                self.reply("550 5.1.1 mailbox unavailable")
            elif verb == b"QUIT":
                self.reply("221 bye")
                return
            elif verb in (b"MAIL", b"RSET", b"NOOP"):
                self.reply("250 ok")
            else:
                self.reply("502 not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    refused = 0


@contextmanager
def refusing_smtp_server():
    """Yields the server; .server_address is (host, port), .refused counts
    the recipients it turned down."""
    server = _Server(("127.0.0.1", 0), _RefusingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
