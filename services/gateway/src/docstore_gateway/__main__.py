"""`python -m docstore_gateway`: the gateway on its settings' host and port, HTTPS when they name a certificate."""

from docstore_gateway.main import serve

serve()
