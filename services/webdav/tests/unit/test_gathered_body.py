"""A request body's ASGI messages joined before they cross to WsgiDAV's thread (`main.gathered`):
every byte in order, each message at least the size asked unless the body ends, and a client's
disconnect passed on after what arrived before it."""

from __future__ import annotations

from typing import Any

from docstore_webdav.main import gathered


def receiving(*messages: dict[str, Any]) -> Any:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def body(data: bytes, more: bool = True) -> dict[str, Any]:
    return {"type": "http.request", "body": data, "more_body": more}


async def test_blocks_are_joined_to_the_size_asked_and_the_rest_follows() -> None:
    receive = gathered(receiving(*(body(bytes([n]) * 10) for n in range(7)), body(b"end", more=False)), at_least=25)
    got = [await receive() for _ in range(3)]
    assert [len(m["body"]) for m in got] == [30, 30, 13]
    assert [m["more_body"] for m in got] == [True, True, False]
    assert b"".join(m["body"] for m in got) == b"".join(bytes([n]) * 10 for n in range(7)) + b"end"


async def test_a_whole_body_and_other_messages_pass_unchanged() -> None:
    whole = body(b"small", more=False)
    assert await gathered(receiving(whole))() is whole
    disconnect = {"type": "http.disconnect"}
    assert await gathered(receiving(disconnect))() is disconnect


async def test_a_disconnect_comes_after_the_bytes_before_it() -> None:
    receive = gathered(receiving(body(b"ab"), body(b"cd"), {"type": "http.disconnect"}), at_least=100)
    first = await receive()
    assert first == {"type": "http.request", "body": b"abcd", "more_body": True}
    assert (await receive())["type"] == "http.disconnect"
