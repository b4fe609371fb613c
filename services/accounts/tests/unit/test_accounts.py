import pytest

from docstore_accounts.domain.accounts import InvalidSignup, new_account
from docstore_kit.passwords import password_matches


def test_password_is_argon2_hashed_and_verifies() -> None:
    account = new_account(username="Ada", email="ada@example.com", password="correct horse", plan="free", region="r")
    assert account.password_hash.startswith("$argon2id$")
    assert "correct horse" not in account.password_hash
    assert account.username == "ada"
    assert password_matches(account.password_hash, "correct horse")
    assert not password_matches(account.password_hash, "wrong horse")
    assert not password_matches("not a hash", "correct horse")


@pytest.mark.parametrize(
    ("username", "email", "password", "field"),
    [
        ("a", "a@example.com", "long enough", "username"),
        ("has space", "a@example.com", "long enough", "username"),
        ("ada", "not-an-email", "long enough", "email"),
        ("ada", "a@example.com", "short", "password"),
    ],
)
def test_signup_rules_name_the_field(username: str, email: str, password: str, field: str) -> None:
    with pytest.raises(InvalidSignup) as refused:
        new_account(username=username, email=email, password=password, plan="free", region="r")
    # The field for programs beside the message; the message in words, not a field name.
    assert refused.value.field == field and refused.value.extra() == {"field": field}
    assert not str(refused.value).startswith(f"{field}:")
