import random
import socket

import pytest

from docstore_devplatform.launch import ServerPorts
from docstore_devplatform.ports import (
    DEFAULT_PORTS,
    GRPC_OFFSET,
    HOST,
    free_ports,
    is_port_free,
    worker_slice,
)


def test_free_ports_are_distinct_free_and_never_defaults():
    ports = free_ports(20)
    assert len(set(ports)) == 20
    assert not set(ports) & DEFAULT_PORTS
    assert all(is_port_free(p) for p in ports)


def test_free_ports_with_offset_reserve_both_ports_below_ephemeral_range():
    ports = free_ports(6, offset=GRPC_OFFSET)
    partners = {p + GRPC_OFFSET for p in ports}
    assert not (set(ports) | partners) & DEFAULT_PORTS
    assert max(partners) < 32768
    assert all(is_port_free(p) for p in partners)


def test_free_ports_never_hands_out_a_port_twice():
    seen = free_ports(10, rng=random.Random(1))
    again = free_ports(10, rng=random.Random(1))
    assert not set(seen) & set(again)


def test_is_port_free_sees_a_listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert not is_port_free(sock.getsockname()[1])


def test_auto_server_ports_avoid_defaults_including_grpc():
    auto = ServerPorts.auto()
    assert not auto.all_ports() & DEFAULT_PORTS
    assert ServerPorts().all_ports() <= DEFAULT_PORTS


def test_a_port_whose_connections_linger_in_time_wait_is_free():
    """`scripts/down && scripts/up` at once: the stopped server closed its connections first,
    so they sit in TIME_WAIT on its port; nothing listens, and a server could bind it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn, Go (weed) and Rust servers do
    listener.bind((HOST, 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection((HOST, port))
    accepted, _ = listener.accept()
    accepted.close()  # the server side closes first: its end of the connection enters TIME_WAIT
    client.recv(1)
    client.close()
    listener.close()
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(OSError):
            plain.bind((HOST, port))  # a probe without SO_REUSEADDR calls it busy
    finally:
        plain.close()
    assert is_port_free(port)


def test_each_xdist_worker_draws_from_a_slice_of_its_own():
    def slice_of(worker: str, count: str = "2") -> tuple[int, int]:
        return worker_slice(20000, 22768, {"PYTEST_XDIST_WORKER": worker, "PYTEST_XDIST_WORKER_COUNT": count})

    first, second = slice_of("gw0"), slice_of("gw1")
    assert first[0] == 20000 and first[1] <= second[0] and second[1] <= 22768
    assert worker_slice(20000, 22768, {}) == slice_of("gw0", "1") == (20000, 22768)
