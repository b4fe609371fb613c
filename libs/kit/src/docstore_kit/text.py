"""`Text`: the one string type of every API input model (request bodies of every service).

JSON may carry a lone UTF-16 surrogate (`"\\ud800"`): `json.loads` turns it into a Python `str`
that no UTF-8 encoder accepts, so it would pass validation and fail later, where it is written
(PyMongo raises `UnicodeEncodeError`, a 500, and drops a pooled connection). `Text` refuses it
at the edge with a 422 naming the field, like any other invalid value. Constraints stack as
usual: `name: Text = Field(max_length=255)`, `tags: list[Text]`.

tests/static/test_api_text.py checks that every string field of every request body is a `Text`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

LONE_SURROGATE = "holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is no character: send valid Unicode"


def refuse_lone_surrogates(value: str) -> str:
    """`value` itself, or ValueError when it holds a surrogate code point (only a lone one can
    reach a Python `str` from JSON: a pair is decoded into the character it encodes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(LONE_SURROGATE) from None
    return value


def is_text(metadata: list[object]) -> bool:
    """Whether a field's metadata (pydantic `FieldInfo.metadata`) holds `Text`'s check."""
    return any(isinstance(item, AfterValidator) and item.func is refuse_lone_surrogates for item in metadata)


Text = Annotated[str, AfterValidator(refuse_lone_surrogates)]
"""A string of valid Unicode: what every string field of a request body is declared as."""
