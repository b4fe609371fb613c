"""Loopback port allocation.

Auto mode draws random ports from 20000-32000: below Linux's ephemeral range (so
outgoing client sockets never steal them) and away from every default port any
local server or service uses, so a test platform can run beside the dev platform.
"""

from __future__ import annotations

import os
import random
import socket
import threading

HOST = "127.0.0.1"

#: SeaweedFS derives gRPC ports as HTTP port + 10000 in places that ignore the flags.
GRPC_OFFSET = 10000

#: Every port the dev platform (fixed mode) or a server's defaults would use.
# fmt: off
DEFAULT_PORTS: frozenset[int] = frozenset(
    {
        9092,  # kafka (tansu)
        27017,  # mongo (secantusd)
        5000,  # moto
        8108, 8107,  # typesense api, peering
        8333, 18333, 9333, 19333, 9340, 19340, 8888, 18888,  # weed s3, master, volume, filer (+grpc)
        7333, 17333, 23646, 33646, 8181, 9101, 6060,  # weed webdav, admin, iceberg, lance, debug
        8334, 18334, 9334, 19334, 9341, 19341, 8889, 18889,  # the broker log's weed (kafka-log)
        7334, 17334, 23647, 33647,
        8080, 8081, 8082, 8083, 8084, 8085, 8086, 8087, 8088, 8089,  # DocStore services
        8079,  # the OpenID provider (oidc-provider)
        8090, 8091, 8092, 8093, 8094, 8095, 8096, 8097, 8098, 8099,  # DocStore services of the second region
    }
)
# fmt: on

_AUTO_RANGE = (20000, 32000)
_EPHEMERAL_LOW = 32768
_lock = threading.Lock()
_handed_out: set[int] = set()


def is_port_free(port: int, host: str = HOST) -> bool:
    """Return True when nothing listens on ``host:port`` and it can be bound now.

    Binds with ``SO_REUSEADDR``, as the servers themselves do: connections of a process that
    just stopped linger in TIME_WAIT for a minute, and must not make a free port look busy
    (``scripts/down && scripts/up`` at once). A listening socket still refuses the bind.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def worker_share(environ: dict[str, str] | None = None) -> tuple[int, int]:
    """``(index, count)`` of this pytest-xdist worker (``(0, 1)`` outside xdist).

    Two workers each start their servers and systems; a port one has picked but not yet bound
    (a service binds seconds after its ports are chosen) looks free to the other. A worker owns
    the ports ``p`` with ``p % GRPC_OFFSET % count == index``, so no two workers ever pick the
    same port, and ``p`` and its gRPC partner ``p + GRPC_OFFSET`` belong to the same worker.
    (Slicing the range in blocks did not: one worker's plain ports overlapped the other's
    SeaweedFS ports, whose range is narrower, and a weed failed to start on a port a service
    of the other worker had just bound.)
    """
    environ = os.environ if environ is None else environ
    worker, count = environ.get("PYTEST_XDIST_WORKER", ""), int(environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    if not worker.startswith("gw") or count < 2:
        return 0, 1
    return int(worker[2:]) % count, count


def owned_by(port: int, share: tuple[int, int]) -> bool:
    """Whether ``port`` belongs to the worker of :func:`worker_share` ``share``."""
    index, count = share
    return port % GRPC_OFFSET % count == index


def free_ports(count: int, *, offset: int | None = None, rng: random.Random | None = None) -> list[int]:
    """Pick ``count`` distinct free loopback ports, never a :data:`DEFAULT_PORTS` one.

    With ``offset``, each picked port ``p`` also has ``p + offset`` free and unused
    by the others (for servers that open a second port at a fixed distance).
    Ports handed out earlier in this process are not handed out again.
    """
    rng = rng or random.Random()
    low, high = _AUTO_RANGE
    if offset:
        high = min(high, _EPHEMERAL_LOW - offset)
    share = worker_share()
    picked: list[int] = []
    with _lock:
        for _ in range(5000):
            if len(picked) == count:
                return picked
            port = rng.randrange(low, high)
            wanted = [port] if offset is None else [port, port + offset]
            taken = DEFAULT_PORTS | _handed_out
            if not owned_by(port, share) or any(p in taken for p in wanted):
                continue
            if not all(is_port_free(p) for p in wanted):
                continue
            picked.append(port)
            _handed_out.update(wanted)
    raise RuntimeError(f"could not find {count} free loopback ports in {low}-{high}")
