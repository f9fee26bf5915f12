"""Loopback addresses: which URLs stay on this machine, and keeping proxies away from them.

A proxy set in the environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``; common on
company machines and in CI) is used by httpx2 for every host not listed in ``NO_PROXY``, the
loopback addresses included, so a client talking to ``llmpresets serve`` on 127.0.0.1 would
send its traffic to the proxy. The clients the library builds for a loopback URL therefore
ignore the environment's proxies (:func:`is_loopback_url`), and :func:`no_proxy_for_loopback`
adds the loopback names to ``NO_PROXY`` for code that builds its own clients (the
``llm_server`` fixture).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

__all__ = ["LOOPBACK_NAMES", "is_loopback_host", "is_loopback_url", "no_proxy_for_loopback"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
_lock = threading.Lock()


def is_loopback_host(host: str) -> bool:
    """``True`` for ``localhost`` (and ``*.localhost``) and every loopback IP address.

    >>> [is_loopback_host(h) for h in ("127.0.0.1", "[::1]", "localhost", "api.openai.com")]
    [True, True, True, False]
    """
    host = host.strip().strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: object) -> bool:
    """``True`` when ``url`` (a string or an httpx2 URL) points at this machine.

    >>> is_loopback_url("http://127.0.0.1:8000/v1"), is_loopback_url("https://api.openai.com/v1")
    (True, False)
    """
    host = getattr(url, "host", None)
    if host is None:
        host = urlsplit(str(url)).hostname or ""
    return is_loopback_host(str(host))


@contextlib.contextmanager
def no_proxy_for_loopback() -> Iterator[None]:
    """Within the block, ``NO_PROXY`` / ``no_proxy`` also list the loopback names.

    Clients built inside (httpx2, requests, urllib, and processes started from here) then
    reach 127.0.0.1, ``localhost`` and ``::1`` directly whatever proxy the environment names.
    Both spellings get the same merged value; the previous values come back on exit.
    """
    with _lock:
        saved = {name: os.environ.get(name) for name in ("NO_PROXY", "no_proxy")}
        names: list[str] = []
        for value in saved.values():
            for name in (value or "").split(","):
                if name.strip() and name.strip() not in names:
                    names.append(name.strip())
        names += [name for name in LOOPBACK_NAMES if name not in names]
        merged = ",".join(names)
        os.environ["NO_PROXY"] = os.environ["no_proxy"] = merged
    try:
        yield
    finally:
        with _lock:
            for name, value in saved.items():
                if os.environ.get(name) != merged:
                    continue  # changed since by someone else: theirs now
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
