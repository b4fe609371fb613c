"""The sign-up password rule (NIST SP 800-63B): length in code points, nothing guessable."""

import pytest

from docstore_accounts.domain.accounts import MAX_PASSWORD, InvalidSignup, check_password, new_account

ADA = {"username": "ada.lovelace", "email": "ada.lovelace@example.com"}


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("password", "This is a top-10 common password. Add another word or two."),
        ("12345678", "This is a top-10 common password."),
        (" " * 8, 'Repeats like "aaa" are easy to guess.'),
        ("qwertyuiop", "common password"),
        ("poiuytrewq", "similar to a commonly used password"),
        ("iloveyou2", "common password"),
        ("a" * 80, "Repeats"),
    ],
)
def test_common_or_guessable_passwords_are_refused_with_a_reason(password: str, why: str) -> None:
    with pytest.raises(InvalidSignup) as refused:
        check_password(password, **ADA)
    message = str(refused.value)
    assert message.startswith("This password is too easy to guess.")
    assert why.lower() in message.lower()


@pytest.mark.parametrize("password", ["ada.lovelace2024", "lovelace1815", "AdaLovelace!", "ada.lovelace@example.com"])
def test_a_password_built_from_the_username_or_email_is_refused(password: str) -> None:
    # Each of these is fine for someone else: it is the account's own words that make it weak.
    with pytest.raises(InvalidSignup, match="too easy to guess"):
        check_password(password, **ADA)


def test_the_message_never_contains_the_password() -> None:
    for password in ["hunter22", "ada.lovelace2024", "short"]:
        with pytest.raises(InvalidSignup) as refused:
            check_password(password, **ADA)
        assert password not in str(refused.value)


def test_length_counts_code_points_as_typed_with_no_trimming() -> None:
    with pytest.raises(InvalidSignup, match="at least 8 characters"):
        check_password("zq7#Lp!")  # seven code points
    with pytest.raises(InvalidSignup, match="at least 8 characters"):
        check_password(" zq7#Lp")  # a leading space counts, but seven is still seven
    with pytest.raises(InvalidSignup, match="too easy"):  # eight with the space: long enough, then judged
        check_password(" zq7#Lp!")
    with pytest.raises(InvalidSignup, match="too easy"):
        check_password("        ")  # eight spaces: long enough, trivially guessable
    # Four emoji are four code points (16 UTF-8 bytes): too short.
    with pytest.raises(InvalidSignup, match="at least 8 characters"):
        check_password("\U0001f40e\U0001f50b\U0001f4ce\U0001f9f1")
    check_password("лошадь батарея скрепка")  # any script: a Russian passphrase is fine
    with pytest.raises(InvalidSignup, match=f"at most {MAX_PASSWORD} characters"):
        check_password("correct horse battery staple " * 40)


@pytest.mark.parametrize(
    "password",
    # Every password the repository's tests and benches sign up with must stay valid.
    ["correct horse battery staple", "correct horse", "benchmark password", "password of a!", "password of b!"],
)
def test_passphrases_used_across_the_repository_are_accepted(password: str) -> None:
    check_password(password, username="ada", email="ada@example.com")
    check_password(password, username="e2e-3f9c2a1b", email="e2e-3f9c2a1b@example.com")


def test_a_long_strong_password_is_accepted() -> None:
    check_password("correct horse battery staple " * 30)  # judged on its first 72 code points


def test_sign_up_applies_the_rule() -> None:
    with pytest.raises(InvalidSignup, match="top-10 common password"):
        new_account(username="ada", email="ada@example.com", password="password", plan="free", region="r")
    account = new_account(
        username="ada", email="ada@example.com", password="correct horse battery staple", plan="free", region="r"
    )
    assert account.password_hash.startswith("$argon2id$")
