"""Fixtures for every indexer test."""

from __future__ import annotations

import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def pillow_bomb_limit_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extractors and renderers set Pillow's global pixel limit, which is meant for their worker
    processes. A test that calls them in the test process must not leave a small limit to the
    tests after it (CI: e2e tests reading previews got DecompressionBombError at 2,000 pixels)."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
