"""Which fields the launcher's update path compares before it leaves an index's entries alone."""

from __future__ import annotations

from docstore_devplatform.secantusd import _index_fields


def test_an_index_is_made_of_its_keys_top_level_fields_and_its_partial_filters():
    fields = _index_fields({"account_id": 1, "stored.sha256": 1}, {"$and": [{"flag": True}, {"meta.kind": "x"}]})
    assert fields == {"account_id", "stored", "flag", "meta"}


def test_wildcard_and_text_indexes_name_no_fields_so_they_are_always_rewritten():
    assert _index_fields({"$**": 1}, None) is None
    assert _index_fields({"meta.$**": 1}, None) is None
    assert _index_fields({"_fts": "text", "_ftsx": 1}, None) is None
