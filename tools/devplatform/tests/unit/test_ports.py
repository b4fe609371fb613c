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
    owned_by,
    worker_share,
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


@pytest.mark.parametrize("count", [2, 3])
def test_each_port_and_its_grpc_partner_belong_to_exactly_one_xdist_worker(count: int):
    shares = [
        worker_share({"PYTEST_XDIST_WORKER": f"gw{i}", "PYTEST_XDIST_WORKER_COUNT": str(count)}) for i in range(count)
    ]
    for port in range(20000, 32000):
        owners = [share for share in shares if owned_by(port, share)]
        assert len(owners) == 1
        assert owned_by(port + GRPC_OFFSET, owners[0])
    assert worker_share({}) == worker_share({"PYTEST_XDIST_WORKER": "gw0", "PYTEST_XDIST_WORKER_COUNT": "1"}) == (0, 1)


def test_free_ports_are_owned_by_this_worker():
    share = worker_share()
    assert all(owned_by(p, share) for p in free_ports(10) + free_ports(4, offset=GRPC_OFFSET))
