"""The listing strategy is chosen once, from the setting or, on "auto", from what the server says
it is (`buildInfo.secantusVersion`). The strategies' behaviour is tested on the real server
(`tests/integration/test_listing_windows.py`)."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.errors import OperationFailure

from docstore_metadata.adapters.keyset import PlainKeyset, WindowedKeyset, choose_listing
from docstore_metadata.settings import Settings

SECANTUS = {"version": "8.2.11", "secantusVersion": "0.7.0b3", "ok": 1.0}
MONGOD = {"version": "8.0.4", "gitVersion": "abc", "ok": 1.0}


class _Admin:
    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self.answer, self.asked = answer, []

    async def command(self, name: str) -> dict[str, Any]:
        self.asked.append(name)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class _Db:
    """Just what the strategies and the probe touch of a motor database."""

    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self.admin = _Admin(answer)
        self.client = self

    def __getitem__(self, name: str) -> str:
        return name


@pytest.mark.parametrize(
    ("setting", "server", "chosen"),
    [
        ("auto", SECANTUS, WindowedKeyset),
        ("auto", MONGOD, PlainKeyset),
        ("auto", OperationFailure("not authorized", code=13), WindowedKeyset),  # correct anywhere
        ("windowed", MONGOD, WindowedKeyset),
        ("keyset", SECANTUS, PlainKeyset),
    ],
)
async def test_the_choice_follows_the_setting_then_the_server(setting: str, server: Any, chosen: type) -> None:
    db = _Db(server)
    listing = await choose_listing(setting, db)  # type: ignore[arg-type]  # a stand-in for the database
    assert type(listing) is chosen
    assert db.admin.asked == (["buildInfo"] if setting == "auto" else [])


async def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="listing strategy"):
        await choose_listing("fastest", _Db(MONGOD))  # type: ignore[arg-type]  # a stand-in for the database


def test_setting_defaults_to_auto_and_accepts_only_known_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("METADATA_LISTING_STRATEGY", "LISTING_STRATEGY"):
        monkeypatch.delenv(name, raising=False)
    assert Settings().listing_strategy == "auto"
    monkeypatch.setenv("METADATA_LISTING_STRATEGY", "keyset")
    assert Settings().listing_strategy == "keyset"
    monkeypatch.setenv("METADATA_LISTING_STRATEGY", "fastest")
    with pytest.raises(ValueError, match="listing_strategy"):
        Settings()
