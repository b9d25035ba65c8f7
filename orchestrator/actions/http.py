"""HTTP for actions: one pool of kept-alive connections per process, shared by its threads.

An action that calls an API runs once per attempt on a worker; a new connection for every
call (a TCP handshake, and TLS for HTTPS) costs more than many calls themselves. A
urllib3 PoolManager keeps connections to each host open between calls and is safe to share
between threads. A forked child (a prefork worker) starts with a pool of its own. HTTPS
certificates are checked against the system's trust store (where a company adds its own CA).

Nothing is retried here: the engine retries a failed attempt with back-off, and a request
that may have reached the server must not be sent twice behind its back.
"""

import os
import threading
from typing import Any

import urllib3

HTTPError = urllib3.exceptions.HTTPError

_pool: urllib3.PoolManager | None = None
_pool_lock = threading.Lock()


def _pool_manager() -> urllib3.PoolManager:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                # maxsize: connections kept per host, one per thread that calls it at once.
                _pool = urllib3.PoolManager(num_pools=32, maxsize=8)
    return _pool


def _forget_pool() -> None:
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    json: Any = None,
    timeout: float = 10,
) -> urllib3.BaseHTTPResponse:
    """Send one request and read the whole answer (.status, .data, .json()). Redirects are
    followed; a connection that cannot be made or an answer that does not come in `timeout`
    seconds raises HTTPError, whose str() says which."""
    try:
        return _pool_manager().request(
            method,
            url,
            headers=headers,
            json=json,
            timeout=urllib3.Timeout(total=timeout),
            retries=_NO_RETRIES,
        )
    except urllib3.exceptions.MaxRetryError as exc:
        # "Max retries exceeded" says nothing to a reader: say what went wrong instead.
        raise HTTPError(str(exc.reason or exc)) from exc


# Redirects followed (up to 10), nothing else retried.
_NO_RETRIES = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=10)
