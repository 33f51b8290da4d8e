"""The webhook secret and the sync token: from the environment or a mounted file, never short,
never given twice, never in an error message."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.controller.settings import SettingsError, load_settings

SECRET = "0123456789abcdef-a-webhook-secret"


def test_a_secret_file_is_read_without_its_trailing_newline(tmp_path: Path) -> None:
    file = tmp_path / "secret"
    file.write_text(SECRET + "\n")

    settings = load_settings(overrides={"webhook_secret_file": file})

    assert settings.webhook_secret_bytes() == SECRET.encode()


def test_a_secret_from_the_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_SYNC_TOKEN", SECRET)

    assert load_settings().sync_token_bytes() == SECRET.encode()


def test_a_short_secret_is_refused_naming_the_option_not_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECONCILER_WEBHOOK_SECRET", "hunter2")

    with pytest.raises(SettingsError, match="RECONCILER_WEBHOOK_SECRET") as raised:
        load_settings()

    assert "shorter than 16 characters" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_a_secret_file_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="sync_token_file"):
        load_settings(overrides={"sync_token_file": tmp_path / "missing"})


def test_a_secret_given_twice_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "secret"
    file.write_text(SECRET)
    monkeypatch.setenv("RECONCILER_WEBHOOK_SECRET", SECRET)

    with pytest.raises(SettingsError, match="webhook_secret or webhook_secret_file, not both"):
        load_settings(overrides={"webhook_secret_file": file})


def test_no_secret_by_default() -> None:
    settings = load_settings()

    assert (settings.webhook_secret_bytes(), settings.sync_token_bytes()) == (None, None)


@pytest.mark.parametrize(
    "secret",
    [" " * 16, "\n" * 17, " 0123456789abcdef", "0123456789abcdef\n\n", "0123456789\tabcdef"],
    ids=["spaces", "newlines", "leading-space", "two-trailing-newlines", "tab-inside"],
)
def test_a_secret_with_whitespace_or_control_characters_is_refused(
    secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A header value loses its surrounding whitespace and cannot carry a control character:
    # such a secret can never be sent back as a GitLab token or a bearer token, and sixteen
    # spaces pass the length check while guessing them is trivial.
    monkeypatch.setenv("RECONCILER_WEBHOOK_SECRET", secret)

    with pytest.raises(SettingsError, match="RECONCILER_WEBHOOK_SECRET") as raised:
        load_settings()

    assert "whitespace" in str(raised.value)
