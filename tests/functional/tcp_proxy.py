# SPDX-License-Identifier: Apache-2.0
"""A TCP proxy that can cut a server off, for outage tests.

Processes pointed at the proxy instead of the server lose every
connection at once when it is cut, and have new ones refused until it is
restored, as if the server had gone away; the server itself, and every
other test using it, notices nothing.
"""

import contextlib
import socket
import threading
import urllib.parse

RECV_SIZE = 64 * 1024


def server_address(url, default_port):
    """(host, port) of the (first) server of a URL
    (scheme://[user:password@]host[:port]/path)."""
    parts = urllib.parse.urlsplit(url.split(',')[0])
    return parts.hostname, parts.port or default_port


def local_url(url, port):
    """``url`` with its (first) server replaced by 127.0.0.1:``port``."""
    parts = urllib.parse.urlsplit(url.split(',')[0])
    credentials, _, _ = parts.netloc.rpartition('@')
    netloc = '127.0.0.1:%d' % port
    return urllib.parse.urlunsplit(parts._replace(
        netloc='%s@%s' % (credentials, netloc) if credentials else netloc))


def several_brokers_url(url, ports):
    """A transport URL naming one broker per port on 127.0.0.1, each with
    the credentials and virtual host of ``url``'s first."""
    parts = urllib.parse.urlsplit(url.split(',')[0])
    credentials, _, _ = parts.netloc.rpartition('@')
    hosts = ','.join('%s127.0.0.1:%d' % (credentials + '@' if credentials
                                         else '', port) for port in ports)
    return urllib.parse.urlunsplit(parts._replace(netloc=hosts))


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to the (first) server of a URL."""

    def __init__(self, server_url, default_port):
        self._server_url = server_url
        self.upstream = server_address(server_url, default_port)
        self.port = 0
        self.connections = 0     # accepted so far
        self._lock = threading.Lock()
        self._listener = None
        self._sockets = set()

    def url(self):
        """The server's URL, through the proxy (once started)."""
        return local_url(self._server_url, self.port)

    def start(self):
        """Accept connections (on the same port as before, if cut)."""
        listener = socket.create_server(('127.0.0.1', self.port))
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True,
                         name='proxy-accept').start()

    def cut(self):
        """Drop every connection and refuse new ones."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            _shut(listener)  # wakes the accepting thread
        for sock in sockets:
            _shut(sock)

    restore = start
    close = cut

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _shut(client)
                continue
            server.settimeout(None)
            # As a real proxy (HAProxy) and py-amqp itself: without it,
            # a small write that follows another waits for the peer's
            # delayed ACK (40 ms), and every call through the proxy that
            # is answered in two writes (an acknowledgement, then the
            # reply) takes that long.
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._listener is not listener:
                    _shut(client)
                    _shut(server)
                    return
                self._sockets |= {client, server}
                self.connections += 1
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink),
                                 daemon=True, name='proxy-pump').start()

    def _pump(self, source, sink):
        """Copy ``source`` to ``sink`` until either end goes; then close
        both, as a server that went away would."""
        try:
            while True:
                data = source.recv(RECV_SIZE)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._sockets -= {source, sink}
        _shut(source)
        _shut(sink)


def _shut(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected, or already shut
    sock.close()


@contextlib.contextmanager
def proxies(urls, default_port):
    """A started TcpProxy to the server of each URL, closed afterwards."""
    made = [TcpProxy(url, default_port) for url in urls]
    try:
        for proxy in made:
            proxy.start()
        yield made
    finally:
        for proxy in made:
            proxy.close()
