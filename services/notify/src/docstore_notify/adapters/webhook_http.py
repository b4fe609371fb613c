"""Calling a webhook endpoint: resolve, check every address, connect to the checked one.

The name is resolved once per attempt (`resolve`); every address it gives must be one DocStore
may call (`refused_address`), else the attempt fails without a connection. The request then goes
to that checked IP itself, never to the name (a second resolution could answer otherwise: DNS
rebinding), with the name in `Host` and, for https, as the TLS server name (SNI) and the name the
certificate must match. No redirect is followed, connections are not reused (a pooled connection
is keyed by IP and could carry another name's TLS session), the whole attempt has one deadline and
at most `max_body` bytes of the answer are read.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from docstore_notify.domain.webhooks import Target, refused_address

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver, in a thread)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class TargetRefused(Exception):
    """The endpoint's name resolves to an address DocStore does not call, or to none."""


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    latency_ms: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def checked_addresses(target: Target, resolve: Resolver, *, allow_private: bool) -> list[str]:
    """The addresses of `target`'s host, each allowed (`TargetRefused` otherwise)."""
    try:
        addresses = [target.host] if _is_ip(target.host) else await resolve(target.host, target.port)
    except OSError as error:
        raise TargetRefused(f"{target.host} does not resolve ({error.strerror or error})") from error
    except ValueError as error:  # UnicodeError: a name IDNA refuses
        raise TargetRefused(f"{target.host} is not a valid host name") from error
    if not addresses:
        raise TargetRefused(f"{target.host} does not resolve")
    if not allow_private:
        for address in addresses:
            reason = refused_address(address)
            if reason:
                raise TargetRefused(f"{target.host} resolves to {reason}; DocStore calls only public addresses")
    return addresses


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


class WebhookClient:
    """POSTs one signed delivery; `resolve` is injectable (tests rebind names)."""

    def __init__(
        self,
        *,
        allow_private: bool,
        connect_timeout: float,
        total_timeout: float,
        max_body: int = 4096,
        resolve: Resolver = system_resolve,
        verify: bool | str = True,
    ) -> None:
        self.allow_private = allow_private
        self.total_timeout = total_timeout
        self.max_body = max_body
        self.resolve = resolve
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(total_timeout, connect=connect_timeout),
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
            verify=verify,
            trust_env=False,  # no proxy from the environment: the checked address is the one we reach
        )

    async def post(self, target: Target, headers: dict[str, str], body: bytes) -> Answer:
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            addresses = await checked_addresses(target, self.resolve, allow_private=self.allow_private)
        except TargetRefused as error:
            return Answer(None, elapsed(), str(error))
        try:
            request = self._request(target, addresses[0], headers, body)
        except (httpx.InvalidURL, ValueError) as error:
            return Answer(None, elapsed(), f"invalid URL: {error}"[:300])
        try:
            async with asyncio.timeout(self.total_timeout):
                response = await self.client.send(request, stream=True)
                try:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read >= self.max_body:
                            break
                finally:
                    await response.aclose()
        except TimeoutError:
            return Answer(None, elapsed(), "timed out")
        except httpx.HTTPError as error:
            return Answer(None, elapsed(), f"{type(error).__name__}: {error}"[:300])
        refusal = None if 200 <= response.status_code < 300 else f"answered {response.status_code}"
        return Answer(response.status_code, elapsed(), refusal)

    def _request(self, target: Target, address: str, headers: dict[str, str], body: bytes) -> httpx.Request:
        """The POST to `address` itself, with `target`'s name in Host and as the TLS server name."""
        url = httpx.URL(target.url).copy_with(host=address)
        default_port = 443 if target.scheme == "https" else 80
        host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
        if ":" in target.host and not target.host.startswith("["):
            host_header = f"[{target.host}]" if target.port == default_port else f"[{target.host}]:{target.port}"
        request_headers = headers | {
            "Host": host_header,
            "Content-Type": "application/json",
            "User-Agent": "DocStore-Webhooks/1",
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" and not _is_ip(target.host) else {}
        return self.client.build_request("POST", url, headers=request_headers, content=body, extensions=extensions)

    async def aclose(self) -> None:
        await self.client.aclose()
