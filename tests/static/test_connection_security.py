"""Every Kafka and MongoDB client in the code that runs in production takes the connection
security settings, and nothing turns TLS verification off.

`docstore_messaging.kafka_security.KafkaSecurity` and `docstore_kit.settings.mongodb_client_options`
carry SASL/SSL, the Kafka CA file and the MongoDB CA file; a client built without them would
silently connect in plain text (or fail) in a cluster that requires TLS. This scans the source
(services, libs, the sync client, the chart's init script) for every such constructor call. S3/SES/STS clients
(boto3) and HTTP clients (httpx) read their CA from the environment (`AWS_CA_BUNDLE`,
`SSL_CERT_FILE`), so for them only an explicit `verify=False` is refused.
"""

from __future__ import annotations

import ast

from .sources import ROOT, product_sources

KAFKA_CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient", "KafkaBroker"}
MONGO_CLIENTS = {"AsyncMongoClient", "MongoClient"}


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def problems_in(source: str, where: str) -> list[str]:
    """Client constructions in `source` that leave the security settings out."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        spread = [ast.unparse(k.value) for k in node.keywords if k.arg is None]  # **kwargs
        named = {k.arg: ast.unparse(k.value) for k in node.keywords if k.arg}
        if name in KAFKA_CLIENTS and not ("security" in named or any(s.endswith(".client_kwargs()") for s in spread)):
            found.append(f"{where}:{node.lineno}: {name}(...) without the KafkaSecurity settings")
        # The init Job's script builds the same {"tlsCAFile": ...} from MONGODB_TLS_CA_FILE itself.
        mirrored = '{"tlsCAFile": ca_file}' in source and any(s.isidentifier() for s in spread)
        if name in MONGO_CLIENTS and not (any(s.startswith("mongodb_client_options(") for s in spread) or mirrored):
            found.append(f"{where}:{node.lineno}: {name}(...) without **mongodb_client_options(settings)")
        if named.get("verify") == "False":
            found.append(f"{where}:{node.lineno}: {name}(..., verify=False) turns TLS verification off")
    return found


def test_every_client_takes_the_connection_security_settings() -> None:
    problems = [
        p
        for path in product_sources(developer_tools=False)
        for p in problems_in(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert problems == []


def test_the_scan_sees_a_bare_client() -> None:
    bare = """
consumer = AIOKafkaConsumer("t", bootstrap_servers=b)
admin = aiokafka.admin.AIOKafkaAdminClient(bootstrap_servers=b, **other())
client = AsyncMongoClient(url, tz_aware=True)
http = httpx.AsyncClient(verify=False)
good = AIOKafkaProducer(bootstrap_servers=b, **self.security.client_kwargs())
broker = KafkaBroker(b, security=security.faststream_security())
mongo = AsyncMongoClient(url, **mongodb_client_options(settings))
"""
    problems = problems_in(bare, "x.py")
    assert [p.split(":")[1] for p in problems] == ["2", "3", "4", "5"]
