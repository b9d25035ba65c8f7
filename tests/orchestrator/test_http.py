"""orchestrator/actions/http.py: the connection pool that actions share, against real servers."""

import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orchestrator.actions import http


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps the connection open between requests

    def do_GET(self):
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/here")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = f'{{"path": "{self.path}"}}'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0

    def get_request(self):
        self.connections += 1
        return super().get_request()


@pytest.fixture
def server():
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_calls_to_one_host_reuse_one_connection(server):
    url = f"http://127.0.0.1:{server.server_port}"
    answers = [http.request("GET", f"{url}/{n}").json() for n in range(3)]

    assert answers == [{"path": "/0"}, {"path": "/1"}, {"path": "/2"}]
    assert server.connections == 1


def test_redirects_are_followed(server):
    response = http.request("GET", f"http://127.0.0.1:{server.server_port}/moved")

    assert response.status == 200
    assert response.json() == {"path": "/here"}


def test_an_answer_that_does_not_come_in_time_is_an_error_that_says_so():
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        with pytest.raises(http.HTTPError, match="timed out"):
            http.request("GET", f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout=0.5)
    assert time.monotonic() - started < 5


def test_a_refused_connection_is_an_error_that_says_so():
    with pytest.raises(http.HTTPError, match="Connection refused"):
        http.request("GET", "http://127.0.0.1:9/", timeout=2)


def test_a_forked_worker_process_starts_with_a_pool_of_its_own(server):
    http.request("GET", f"http://127.0.0.1:{server.server_port}/")
    assert http._pool is not None

    pid = os.fork()
    if pid == 0:  # the child: a prefork worker must not share the parent's sockets
        os._exit(0 if http._pool is None else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
