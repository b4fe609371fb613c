"""Schemathesis hooks of tests/security/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

Schemathesis generates strings from all of Unicode that UTF-8 can carry, which leaves out the
surrogates (U+D800-U+DFFF). JSON can still carry a lone one as an escape (`"\\ud800"`), and a
client may send it (issue 33: a lone surrogate in `tags` was a 500). This hook gives every
generated JSON body three twins whose strings each end in a lone surrogate; Hypothesis picks between
them, so the run's seed still decides every case. The body goes out as `json.dumps` writes it
(ASCII, the surrogate escaped)."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import strategies as st

LONE_SURROGATES = ("\ud800", "\udfff", "\udc00")


def with_surrogates(value: Any, mark: str) -> Any:
    """`value` with `mark` after every string in it (keys too)."""
    if isinstance(value, str):
        return value + mark
    if isinstance(value, list):
        return [with_surrogates(item, mark) for item in value]
    if isinstance(value, dict):
        return {with_surrogates(key, mark): with_surrogates(item, mark) for key, item in value.items()}
    return value


def has_string(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, list):
        return any(has_string(item) for item in value)
    if isinstance(value, dict):
        return bool(value)  # its keys are strings
    return False


@schemathesis.hook
def flatmap_body(context: Any, body: Any) -> Any:
    if not has_string(body):
        return st.just(body)
    return st.sampled_from([body, *(with_surrogates(body, mark) for mark in LONE_SURROGATES)])
