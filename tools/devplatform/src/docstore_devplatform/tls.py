"""A local certificate authority for ``scripts/up --tls`` (and the TLS end-to-end test).

:func:`local_tls` makes (once per data dir, then reuses, so a browser or system trust store
that was told about the CA keeps trusting it) a CA with `trustme` and one server certificate
for ``127.0.0.1``, ``localhost`` and ``::1``, signed by it. Every local server that can serve
TLS cheaply uses that certificate:

=========== ============================================== ===================================
what        TLS in ``--tls`` mode                          clients trust the CA through
=========== ============================================== ===================================
gateways    HTTPS (``TLS_CERT_FILE``/``TLS_KEY_FILE``)      ``SSL_CERT_FILE`` / curl --cacert
S3          SeaweedFS ``-s3.cert.file``/``-s3.key.file``    ``AWS_CA_BUNDLE`` (botocore)
MongoDB     SecantusDB ``--tls-cert-file``                  ``MONGODB_TLS_CA_FILE`` (tlsCAFile)
Typesense   ``--ssl-certificate``                           ``SSL_CERT_FILE`` (httpx)
SES/STS     moto ``--ssl-cert``                             ``AWS_CA_BUNDLE`` (botocore)
Kafka       stays PLAINTEXT on loopback                    (see below)
services    stay plain HTTP on loopback                    (see below)
=========== ============================================== ===================================

Kafka stays plain: Tansu takes a certificate, but SeaweedFS's filer publishes its bucket
notifications (which the upload service waits on) with a Kafka client that has no TLS option,
and one broker has one listener. The services' own calls to each other stay plain HTTP on
127.0.0.1: they never leave the machine, each carries a signed identity token, and in a
cluster the NetworkPolicies (or a mesh) cover them. The chart's Kafka/MongoDB/S3 CA mounts and
the gateway's in-cluster certificate are the production side of the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TLS_DIR = "tls"
#: The names the server certificate is valid for: every address the local platform listens on.
IDENTITIES = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class LocalTLS:
    """Where the local CA and the servers' certificate and key are (PEM files)."""

    ca_file: Path
    """The CA certificate clients trust (`SSL_CERT_FILE`, `AWS_CA_BUNDLE`, `curl --cacert`)."""
    cert_file: Path
    """The servers' certificate followed by the CA's (a chain)."""
    key_file: Path
    """The servers' private key (mode 0600)."""

    @classmethod
    def in_dir(cls, directory: Path) -> LocalTLS:
        """The file names in ``directory`` (nothing is created)."""
        return cls(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")

    def exists(self) -> bool:
        return all(path.is_file() for path in (self.ca_file, self.cert_file, self.key_file))

    def client_env(self) -> dict[str, str]:
        """Environment that makes a process trust the local CA: httpx, Python's ssl defaults and
        OpenSSL tools read ``SSL_CERT_FILE``; botocore reads ``AWS_CA_BUNDLE`` (S3, SES, STS)."""
        return {"SSL_CERT_FILE": str(self.ca_file), "AWS_CA_BUNDLE": str(self.ca_file)}

    def gateway_env(self) -> dict[str, str]:
        """The gateway's settings that make it serve HTTPS with the local certificate."""
        return {"GATEWAY_TLS_CERT_FILE": str(self.cert_file), "GATEWAY_TLS_KEY_FILE": str(self.key_file)}

    def to_dict(self) -> dict[str, str]:
        return {"ca_file": str(self.ca_file), "cert_file": str(self.cert_file), "key_file": str(self.key_file)}


def local_tls(directory: Path) -> LocalTLS:
    """The local CA and server certificate in ``directory``: the existing ones, or new ones made
    with `trustme` (a CA, then a certificate for :data:`IDENTITIES` signed by it)."""
    tls = LocalTLS.in_dir(directory)
    if tls.exists():
        return tls
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="DocStore local development CA")
    server = ca.issue_cert(*IDENTITIES, common_name="127.0.0.1")
    ca.cert_pem.write_to_path(str(tls.ca_file))
    server.private_key_pem.write_to_path(str(tls.key_file))
    tls.key_file.chmod(0o600)
    tls.cert_file.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    return tls


def trust_hints(tls: LocalTLS, gateway: str) -> list[str]:
    """How to trust the local CA (the lines ``up --tls`` prints)."""
    return [
        f"  CA:         {tls.ca_file}  (certificate for {', '.join(IDENTITIES)}: {tls.cert_file})",
        f"  Trust it:   curl --cacert {tls.ca_file} {gateway}/healthz",
        f"              SSL_CERT_FILE={tls.ca_file} (Python, httpx)  AWS_CA_BUNDLE={tls.ca_file} (boto3, aws)",
        "              browsers: import the CA as a trusted authority, or accept the warning once per port",
    ]
