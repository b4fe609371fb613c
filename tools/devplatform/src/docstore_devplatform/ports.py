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


def worker_slice(low: int, high: int, environ: dict[str, str] | None = None) -> tuple[int, int]:
    """The part of ``low``-``high`` this pytest-xdist worker draws from (all of it outside xdist).

    Two workers each start their servers and systems; a port one has picked but not yet bound
    looks free to the other. Disjoint slices make that race impossible.
    """
    environ = os.environ if environ is None else environ
    worker, count = environ.get("PYTEST_XDIST_WORKER", ""), int(environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    if not worker.startswith("gw") or count < 2:
        return low, high
    index, width = int(worker[2:]) % count, (high - low) // count
    return low + index * width, low + (index + 1) * width


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
    low, high = worker_slice(low, high)
    picked: list[int] = []
    with _lock:
        for _ in range(5000):
            if len(picked) == count:
                return picked
            port = rng.randrange(low, high)
            wanted = [port] if offset is None else [port, port + offset]
            taken = DEFAULT_PORTS | _handed_out
            if any(p in taken for p in wanted) or not all(is_port_free(p) for p in wanted):
                continue
            picked.append(port)
            _handed_out.update(wanted)
    raise RuntimeError(f"could not find {count} free loopback ports in {low}-{high}")
