"""Password hashes: argon2id at the standard cost unless the test platform asks for the cheapest."""

import pytest
from argon2 import extract_parameters, profiles

from docstore_kit import passwords
from docstore_kit.passwords import hash_password, password_matches


def test_a_password_is_argon2id_hashed_and_only_it_matches() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$") and "correct horse" not in hashed
    assert password_matches(hashed, "correct horse")
    assert not password_matches(hashed, "wrong horse")
    assert not password_matches("not a hash", "correct horse")


def test_passwords_are_hashed_at_the_standard_cost_unless_told_and_any_cost_verifies() -> None:
    standard = hash_password("correct horse")
    assert extract_parameters(standard) == profiles.RFC_9106_LOW_MEMORY  # 64 MiB, 3 passes, 4 lanes
    try:
        passwords.use_password_hash_cost("test-only-cheapest")
        cheap = hash_password("correct horse")
        assert extract_parameters(cheap).memory_cost == profiles.CHEAPEST.memory_cost
        assert password_matches(cheap, "correct horse") and password_matches(standard, "correct horse")
        assert not password_matches(cheap, "wrong horse")
        with pytest.raises(ValueError, match="unknown password hash cost"):
            passwords.use_password_hash_cost("fast")
    finally:
        passwords.use_password_hash_cost("standard")
    assert extract_parameters(hash_password("x")) == profiles.RFC_9106_LOW_MEMORY
