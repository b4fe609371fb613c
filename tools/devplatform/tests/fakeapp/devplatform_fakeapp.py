"""A stand-in for a DocStore service's ``main.py`` (``def app() -> FastAPI``), for the devplatform tests.

``FAKEAPP_FAIL=<service>`` makes that service crash at startup; ``FAKEAPP_NEVER_READY=<service>``
makes its /readyz answer 503 forever.
"""

import os
import sys

from fastapi import FastAPI, Response

from docstore_devplatform.services import SERVICES

SERVICE_VARS = (
    "REGION", "S3_BUCKET", "ENVIRONMENT", "KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL", "S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_SES",
    "AWS_ENDPOINT_URL_STS", "TYPESENSE_URL", "TYPESENSE_API_KEY", "FAKEAPP_EXTRA",
    *(f"{name.upper()}_URL" for name in SERVICES),
)  # fmt: skip


def app() -> FastAPI:
    api = FastAPI()
    me = _my_name()
    if os.environ.get("FAKEAPP_FAIL") == me:
        raise RuntimeError(f"fake {me} refuses to start")

    @api.get("/readyz")
    def readyz(response: Response) -> dict:
        if os.environ.get("FAKEAPP_NEVER_READY") == me:
            response.status_code = 503
            return {"ready": False}
        return {"ready": True}

    @api.get("/env")
    def env() -> dict:
        return {"name": me, "pid": os.getpid(), **{k: os.environ.get(k) for k in SERVICE_VARS}}

    return api


def _my_name() -> str:
    """The service name, from the port in the URL variables uvicorn was started for."""
    port = sys.argv[sys.argv.index("--port") + 1] if "--port" in sys.argv else ""
    for name in SERVICES:
        if os.environ.get(f"{name.upper()}_URL", "").endswith(f":{port}"):
            return name
    return "unknown"
