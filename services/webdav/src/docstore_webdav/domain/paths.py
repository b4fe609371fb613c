"""Where a WebDAV request points: the client's URL forms, the account's own tree, and the
internal path WsgiDAV works on (pure).

Clients use the URL forms of Nextcloud and ownCloud, so their configurations work unchanged:
`/remote.php/dav/files/{username}/...` and the older `/remote.php/webdav/...` (the caller's own
files). Inside the service a path is `/{account_id}/...`: every lock and dead property is kept
under it, so two accounts never share a key whatever their folders are called, and both URL forms
of one account see the same locks.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

FILES_PREFIX = "/remote.php/dav/files/"
WEBDAV_PREFIX = "/remote.php/webdav"
MAX_NAME_CHARS = 255
MAX_DEPTH = 64


class NotOurs(ValueError):
    """The path is not under a DAV root this caller may use."""


@dataclass(frozen=True)
class DavRoot:
    """A client-visible DAV root (`prefix`, no trailing slash) and the rest of the path."""

    prefix: str
    username: str | None
    rest: str
    """Decoded, starts with '/' (the root itself: '/'); a collection may end with '/'."""


def split_client_path(path: str) -> DavRoot:
    """The root and rest of a decoded request path; NotOurs for anything else."""
    if path == WEBDAV_PREFIX or path.startswith(WEBDAV_PREFIX + "/"):
        return DavRoot(WEBDAV_PREFIX, None, path[len(WEBDAV_PREFIX) :] or "/")
    if path.startswith(FILES_PREFIX):
        username, slash, rest = path[len(FILES_PREFIX) :].partition("/")
        if not username:
            raise NotOurs("no username in the path")
        return DavRoot(FILES_PREFIX + username, username, slash + rest if slash else "/")
    raise NotOurs("not a WebDAV path")


def internal_path(account_id: str, rest: str) -> str:
    """`/{account_id}{rest}`: what WsgiDAV sees."""
    return f"/{account_id}{rest if rest.startswith('/') else '/' + rest}"


def client_href(prefix: str, account_id: str, internal: str) -> str:
    """The internal (quoted or not) path of a resource back under the client's prefix."""
    head = f"/{account_id}"
    plain = unquote(internal)
    if plain != head and not plain.startswith(head + "/"):
        raise NotOurs("a path of another account")
    return prefix + plain[len(head) :]


def segments(rest: str) -> tuple[str, ...]:
    """The folder and file names of a path inside the account (`/a/b/` -> ('a', 'b')); NotOurs
    for dot segments, control characters, backslashes or names too long."""
    parts = tuple(part for part in rest.split("/") if part)
    if len(parts) > MAX_DEPTH:
        raise NotOurs("the path is too deep")
    for part in parts:
        if part in (".", "..") or "\\" in part or any(ord(c) < 32 or ord(c) == 127 for c in part):
            raise NotOurs("the path holds a dot segment or a control character")
        if len(part) > MAX_NAME_CHARS:
            raise NotOurs("a name is longer than 255 characters")
    return parts


def folder_path(parts: tuple[str, ...]) -> str:
    """metadata's spelling of a folder: '/' or '/a/b'."""
    return "/" + "/".join(parts)


def parent_and_name(parts: tuple[str, ...]) -> tuple[str, str]:
    """The folder holding the last name, and that name."""
    if not parts:
        raise NotOurs("the root has no parent")
    return folder_path(parts[:-1]), parts[-1]


def quoted(path: str) -> str:
    return quote(path, safe="/!*'(),$-_|.~")
