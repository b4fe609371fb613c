"""The gateway's internal redirect for stored bytes (nginx's `X-Accel-Redirect` pattern), the
contract between the gateway and a service that answers a GET with a stored object's bytes.

The gateway asks with `ASK` on a GET it forwards. The service decides the answer as usual
(who may read, which version, conditional headers, the range, every header), but instead of
the bytes it sends an empty body with `URL`, the object's signed S3 URL, and `RANGE`, the bytes
of that object that are the body (`bytes=first-last`). The gateway then reads exactly those
bytes from S3 and passes them on with the service's status and headers: the bytes go S3 →
gateway → client, one hop less than S3 → service → gateway → client.

Both headers are the gateway's alone: it never passes them on to a client, and a client's own
`ASK` is not forwarded (the gateway's header list)."""

ASK = "X-DocStore-Handoff"
"""Request header: the gateway reads the bytes from S3 itself if the service names them."""
URL = "X-DocStore-Handoff-Url"
"""Answer header: the signed S3 URL of the object (a credential: never logged, never passed on)."""
RANGE = "X-DocStore-Handoff-Range"
"""Answer header: the body's bytes of that object, as a Range header value (`bytes=first-last`)."""
