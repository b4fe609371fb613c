"""Which GETs are answered with a redirect to the signed S3 URL (issue 38), pure.

A redirect moves the bytes off this service (the client reads S3 directly, at S3's speed), but
only a client that follows a redirect on GET may get one: litmus, davfs2, Windows' WebDAV
redirector (Explorer) and macOS Finder do not, and would show an error or a 302 body. So the
default is to stream, and a redirect goes only to:

- a client whose User-Agent starts with a prefix of the `redirect_user_agents` setting (rclone and
  Go's standard client, which follow GET redirects and drop the Authorization header on the way
  to another host);
- any client that asks with `X-DocStore-Redirect: follow` (curl -L, scripts); `X-DocStore-Redirect:
  stream` asks for streaming whatever the User-Agent.

A GET with a conditional header (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since,
If-Range) is streamed: WsgiDAV evaluates it against the document (304, 412) as RFC 9110 says, which
S3 could not do against our ETag. A Range alone is fine: the client sends it again to S3, which
answers 206.

A streamed GET that comes through the gateway is handed off (`handoff_get`): WsgiDAV decides the
answer (status, headers, range, conditional headers) and the gateway reads the bytes from S3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from docstore_kit import handoff

OPT_IN_HEADER = "X-DocStore-Redirect"
FOLLOW = frozenset({"follow", "1", "yes", "true"})
STREAM = frozenset({"stream", "0", "no", "false"})
DEFAULT_USER_AGENTS = ("rclone/", "Go-http-client/")
CONDITIONAL = (
    "HTTP_IF_MATCH",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_IF_RANGE",
)
_OPT_IN_KEY = "HTTP_" + OPT_IN_HEADER.upper().replace("-", "_")
_HANDOFF_KEY = "HTTP_" + handoff.ASK.upper().replace("-", "_")


def follows_redirects(user_agent: str, opt_in: str | None, prefixes: Sequence[str]) -> bool:
    """Whether this client follows a redirect on GET: its explicit choice, else its User-Agent."""
    if opt_in is not None:
        choice = opt_in.strip().lower()
        if choice in FOLLOW:
            return True
        if choice in STREAM:
            return False
    agent = user_agent.strip().lower()
    return any(prefix and agent.startswith(prefix.lower()) for prefix in prefixes)


def redirect_get(environ: Mapping[str, object], prefixes: Sequence[str]) -> bool:
    """Whether to answer this WSGI request with a redirect to the bytes (only then is the document
    looked up for it): a GET without conditional headers from a client that follows redirects."""
    if str(environ.get("REQUEST_METHOD", "")).upper() != "GET":
        return False
    if any(environ.get(key) for key in CONDITIONAL):
        return False
    opt_in = environ.get(_OPT_IN_KEY)
    return follows_redirects(str(environ.get("HTTP_USER_AGENT", "")), None if opt_in is None else str(opt_in), prefixes)


def handoff_get(environ: Mapping[str, object]) -> bool:
    """Whether a streamed GET's bytes go to the gateway as a handoff (`docstore_kit.handoff`):
    the gateway asked. The answer is decided as for any GET (conditional headers, the range)."""
    return str(environ.get("REQUEST_METHOD", "")).upper() == "GET" and bool(environ.get(_HANDOFF_KEY))
