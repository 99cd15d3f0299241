"""The production password hash: Argon2id at pwdlib's defaults. The in-process tests
hash with cheaper parameters (tests/conftest.py); these checks use the real ones."""

from __future__ import annotations

from medianest.core import passwords


def test_production_hashes_are_argon2id_at_64_mib_three_passes_four_lanes() -> None:
    made = passwords.HASHER.hash("correct horse battery")
    assert made.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), made
    assert passwords.HASHER.verify("correct horse battery", made)
    assert not passwords.HASHER.verify("correct horse batterY", made)


def test_a_hash_made_with_other_parameters_is_upgraded_at_the_next_sign_in() -> None:
    # What the tests' cheap hashes (or an older release's) become in production.
    weaker = passwords._hasher.hash("correct horse battery")
    valid, upgraded = passwords.HASHER.verify_and_update("correct horse battery", weaker)
    assert valid
    assert upgraded is not None and upgraded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_the_suite_hashes_cheaply_in_process() -> None:
    assert passwords._hasher is not passwords.HASHER
    assert passwords._hasher.hash("x").startswith("$argon2id$v=19$m=8,t=1,p=1$")
