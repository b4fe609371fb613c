import random
import socket

from docstore_devplatform.launch import ServerPorts
from docstore_devplatform.ports import (
    DEFAULT_PORTS,
    GRPC_OFFSET,
    free_ports,
    is_port_free,
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
