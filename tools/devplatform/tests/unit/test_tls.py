"""The local CA of `up --tls`: a certificate the CA really signs for every loopback name, reused
on the next start; and the servers' and services' TLS wiring (argv flags, client settings)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from docstore_devplatform.e2e import E2E_TLS_ENV, e2e_tls, e2e_tls_requested
from docstore_devplatform.launch import ServerPorts, moto_argv, secantus_argv, typesense_argv, weed_argv
from docstore_devplatform.paths import Binaries
from docstore_devplatform.servers import Endpoints
from docstore_devplatform.services import service_urls
from docstore_devplatform.tls import IDENTITIES, local_tls

BINARIES = Binaries(*(Path(f"/bin/{name}") for name in ("tansu", "secantusd", "weed", "moto", "typesense")))


def test_the_certificate_is_signed_by_the_ca_for_every_loopback_name(tmp_path: Path) -> None:
    tls = local_tls(tmp_path / "tls")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tls.cert_file, tls.key_file)  # the key matches the certificate
    client = ssl.create_default_context(cafile=str(tls.ca_file))
    for name in IDENTITIES:
        a, b = ssl.MemoryBIO(), ssl.MemoryBIO()
        c, d = ssl.MemoryBIO(), ssl.MemoryBIO()
        client_side = client.wrap_bio(a, b, server_hostname=name)
        server_side = server.wrap_bio(c, d, server_side=True)
        for _ in range(10):  # pump the handshake between the two in-memory ends
            for end in (client_side, server_side):
                try:
                    end.do_handshake()
                except ssl.SSLWantReadError:
                    pass
            c.write(b.read())
            a.write(d.read())
        assert client_side.getpeercert()["subject"], name  # verified against the CA, for this name
    assert tls.key_file.stat().st_mode & 0o077 == 0


def test_the_ca_is_made_once_and_then_reused(tmp_path: Path) -> None:
    first = local_tls(tmp_path)
    ca = first.ca_file.read_bytes()
    assert local_tls(tmp_path).ca_file.read_bytes() == ca


def test_servers_get_the_certificate_and_clients_the_ca(tmp_path: Path) -> None:
    tls = local_tls(tmp_path)
    ports = ServerPorts()
    assert {"--tls-cert-file", str(tls.cert_file)} <= set(secantus_argv(BINARIES, ports, tmp_path, tls))
    assert f"-s3.key.file={tls.key_file}" in weed_argv(BINARIES, ports, tmp_path, tmp_path / "s3.json", tls)
    assert f"--ssl-certificate={tls.cert_file}" in typesense_argv(BINARIES, ports, tmp_path, "k", tls)
    assert "--ssl-cert" in moto_argv(BINARIES, ports, tls)
    assert not any("-s3.cert" in arg for arg in weed_argv(BINARIES, ports, tmp_path, tmp_path / "s3.json"))

    env = Endpoints.for_ports(ports, tls=tls).service_env()
    # The services' MongoDB URL asks for TLS but names no CA: MONGODB_TLS_CA_FILE must carry it.
    assert env["MONGODB_URL"].endswith("&tls=true") and env["MONGODB_TLS_CA_FILE"] == str(tls.ca_file)
    assert env["AWS_CA_BUNDLE"] == env["SSL_CERT_FILE"] == str(tls.ca_file)
    assert env["S3_ENDPOINT_URL"].startswith("https://") and env["TYPESENSE_URL"].startswith("https://")
    plain = Endpoints.for_ports(ports).service_env()
    assert "MONGODB_TLS_CA_FILE" not in plain and plain["S3_ENDPOINT_URL"].startswith("http://")


def test_only_the_gateway_is_https_among_the_services() -> None:
    urls = service_urls({"gateway": 8080, "metadata": 8081}, tls=True)
    assert urls == {"gateway": "https://127.0.0.1:8080", "metadata": "http://127.0.0.1:8081"}


@pytest.mark.parametrize(
    ("value", "expected"), [(None, False), ("", False), ("0", False), ("no", False), ("1", True), ("TRUE", True)]
)
def test_the_e2e_tls_pass_is_asked_for_by_its_variable(value: str | None, expected: bool) -> None:
    environ = {} if value is None else {E2E_TLS_ENV: value}
    assert e2e_tls_requested(environ) is expected


def test_a_misspelt_e2e_tls_value_stops_the_run_rather_than_run_plain() -> None:
    with pytest.raises(pytest.UsageError, match=E2E_TLS_ENV):
        e2e_tls_requested({E2E_TLS_ENV: "ture"})


def test_the_e2e_tls_pass_makes_the_run_its_own_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(E2E_TLS_ENV, raising=False)
    assert e2e_tls(tmp_path) is None
    monkeypatch.setenv(E2E_TLS_ENV, "1")
    tls = e2e_tls(tmp_path)
    assert tls is not None and tls.ca_file == tmp_path / "tls" / "ca.pem" and tls.exists()
