"""Which fields the launcher's update path compares before it leaves an index's entries alone,
and when its `$in` answers by set membership."""

from __future__ import annotations

from bson import Code, ObjectId

from docstore_devplatform.secantusd import _in_by_membership, _index_fields


def test_an_index_is_made_of_its_keys_top_level_fields_and_its_partial_filters():
    fields = _index_fields({"account_id": 1, "stored.sha256": 1}, {"$and": [{"flag": True}, {"meta.kind": "x"}]})
    assert fields == {"account_id", "stored", "flag", "meta"}


def test_wildcard_and_text_indexes_name_no_fields_so_they_are_always_rewritten():
    assert _index_fields({"$**": 1}, None) is None
    assert _index_fields({"meta.$**": 1}, None) is None
    assert _index_fields({"_fts": "text", "_ftsx": 1}, None) is None


MISSING = object()
EXACT = (str, ObjectId)


def test_in_over_strings_and_object_ids_is_a_set_lookup_over_values_and_array_elements():
    oid = ObjectId()
    wanted = frozenset({"a", oid})
    assert _in_by_membership(["a"], wanted, EXACT, MISSING) is True
    assert _in_by_membership([ObjectId(oid)], wanted, EXACT, MISSING) is True
    assert _in_by_membership([["x", "a"]], wanted, EXACT, MISSING) is True  # an array's element
    assert _in_by_membership(["A", MISSING, [], str(oid)], wanted, EXACT, MISSING) is False


def test_in_leaves_values_of_other_types_to_secantusdbs_own_comparison():
    wanted = frozenset({"a"})
    for value in (1, None, {"a": 1}, Code("a"), ["", 1]):
        assert _in_by_membership(["b", value], wanted, EXACT, MISSING) is None
