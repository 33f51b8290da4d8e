"""Settings: defaults, the environment, the TOML file, flags, and their documentation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.adapters.aws.applying import ApplySettings
from reconciler.adapters.aws.clients import make_clients
from reconciler.controller.settings import (
    ControllerSettings,
    SettingsError,
    load_settings,
    parse_listen,
)
from reconciler.controller.wiring import build_controller
from reconciler.planning.reports import Mode
from tests.support import git

DOCS = Path(__file__).resolve().parents[2] / "docs" / "controller.md"


@pytest.fixture(autouse=True)
def _no_reconciler_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os  # noqa: PLC0415

    for name in list(os.environ):
        if name.startswith("RECONCILER_"):
            monkeypatch.delenv(name)


def test_defaults_are_a_heal_loop_listening_on_loopback() -> None:
    settings = load_settings()

    assert settings.mode is Mode.HEAL
    assert settings.listen_address == ("127.0.0.1", 8080)
    assert settings.interval_seconds == 300.0


def test_the_environment_overrides_the_file_and_flags_override_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "reconciler.toml"
    config.write_text('mode = "detect"\ninterval_seconds = 60\npoll_interval_seconds = 5\n')
    monkeypatch.setenv("RECONCILER_INTERVAL_SECONDS", "120")

    settings = load_settings(config_file=config, overrides={"poll_interval_seconds": 7.5})

    assert settings.mode is Mode.DETECT  # from the file
    assert settings.interval_seconds == 120.0  # the environment beats the file
    assert settings.poll_interval_seconds == 7.5  # the flag beats both


def test_the_config_file_can_be_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "reconciler.toml"
    config.write_text('repository = "https://example.com/access.git"\n')
    monkeypatch.setenv("RECONCILER_CONFIG_FILE", str(config))

    assert load_settings().repository == "https://example.com/access.git"


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(config_file=tmp_path / "absent.toml")


def test_an_unknown_option_in_the_file_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "reconciler.toml"
    config.write_text("intervall_seconds = 60\n")

    with pytest.raises(SettingsError, match="intervall_seconds"):
        load_settings(config_file=config)


def test_a_mistyped_environment_variable_is_an_error_naming_the_option_meant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``RECONCILER_LOKC=dynamodb`` must not leave the controller without a writer lock."""
    monkeypatch.setenv("RECONCILER_LOKC", "dynamodb")

    with pytest.raises(SettingsError, match=r"RECONCILER_LOKC \(did you mean RECONCILER_LOCK\?\)"):
        load_settings()


def test_the_config_file_and_sandbox_variables_are_not_taken_for_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "reconciler.toml"
    config.write_text("interval_seconds = 60\n")
    monkeypatch.setenv("RECONCILER_CONFIG_FILE", str(config))
    monkeypatch.setenv("RECONCILER_SANDBOX_SHAPE_CHECK", "1")

    assert load_settings().interval_seconds == 60


def test_invalid_values_name_the_option() -> None:
    with pytest.raises(SettingsError, match="retry_interval_seconds"):
        load_settings(overrides={"retry_interval_seconds": -1})


def test_flags_not_given_do_not_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_MODE", "detect")

    assert load_settings(overrides={"mode": None}).mode is Mode.DETECT


def test_the_slack_webhook_url_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "https://hooks.slack.com/services/T000/B000/SECRETSECRET"
    monkeypatch.setenv("RECONCILER_SLACK_WEBHOOK_URL", secret)

    settings = load_settings()

    assert settings.slack_webhook_url is not None
    assert settings.slack_webhook_url.get_secret_value() == secret
    assert "SECRETSECRET" not in repr(settings)
    assert "SECRETSECRET" not in str(settings.model_dump())


def test_a_dynamodb_lock_needs_a_table() -> None:
    with pytest.raises(SettingsError, match="lock_table"):
        load_settings(overrides={"lock": "dynamodb"})


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("[::1]:9000", ("::1", 9000)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),  # noqa: S104 - parsed, nothing binds
        ("off", None),
        ("", None),
    ],
)
def test_listen_addresses_parse(text: str, address: tuple[str, int] | None) -> None:
    assert parse_listen(text) == address


@pytest.mark.parametrize("text", ["8080", "localhost", "host:http", "127.0.0.1:70000"])
def test_bad_listen_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="listen"):
        parse_listen(text)


def test_the_default_state_file_differs_per_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))

    first = load_settings(overrides={"repository": "https://example.com/a.git"})
    second = load_settings(overrides={"repository": "https://example.com/b.git"})

    assert first.resolved_state_file().parent == tmp_path / "identity-center-reconciler"
    assert first.resolved_state_file() != second.resolved_state_file()


def test_every_option_is_documented_with_its_default() -> None:
    text = DOCS.read_text()
    rows = {
        match.group(1): match.group(0)
        for match in re.finditer(r"^\| `(\w+)` \|.*$", text, flags=re.MULTILINE)
    }

    for name, field in ControllerSettings.model_fields.items():
        assert name in rows, f"{name} is not documented in docs/controller.md"
        assert f"`RECONCILER_{name.upper()}`" in rows[name], name
        if field.default is not None and field.default_factory is None:
            shown = f"`{_shown(field.default)}`"
            assert shown in rows[name], f"{name}: default {shown} not shown"
        else:
            assert "| none |" in rows[name], f"{name}: default none not shown"


def _shown(default: object) -> str:
    """A default as the documentation writes it: ``300`` for 300.0, ``false`` for False."""
    if isinstance(default, Mode):
        return default.value
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def test_the_default_state_file_differs_between_two_local_repositories_given_as_dot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = []
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        monkeypatch.chdir(folder)
        files.append(ControllerSettings(repository=".").resolved_state_file())

    assert files[0] != files[1]


def test_a_safety_margin_leaving_no_time_between_renewals_is_refused() -> None:
    with pytest.raises(SettingsError, match="lock_safety_margin_seconds"):
        load_settings(
            overrides={
                "lock": "dynamodb",
                "lock_table": "locks",
                "lock_lease_seconds": 40,
                "lock_safety_margin_seconds": 35,
            }
        )


def test_the_default_safety_margin_covers_one_write_attempt() -> None:
    from reconciler.adapters.aws.clients import WRITE_ATTEMPT_SECONDS  # noqa: PLC0415

    assert load_settings().lock_safety_margin_seconds >= WRITE_ATTEMPT_SECONDS


@pytest.mark.parametrize(
    ("value", "seconds"), [("PT24H", 86400.0), ("P1D", 86400.0), ("PT90M", 5400.0), ("600", 600.0)]
)
def test_the_deletion_window_takes_seconds_or_an_iso_8601_duration(
    monkeypatch: pytest.MonkeyPatch, value: str, seconds: float
) -> None:
    monkeypatch.setenv("RECONCILER_DELETION_GUARD_WINDOW_SECONDS", value)

    assert load_settings().deletion_guard_window_seconds == seconds


def test_the_deletion_window_defaults_to_24_hours() -> None:
    assert load_settings().deletion_guard_window_seconds == 86400.0


def test_allow_deletions_revision_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sha = "0123456789ABCDEF0123456789abcdef01234567"
    monkeypatch.setenv("RECONCILER_ALLOW_DELETIONS_REVISION", sha)

    assert load_settings().allow_deletions_revision == sha.lower()


@pytest.mark.parametrize("setting", ["allow_deletions_revision", "allow_rewind_revision"])
@pytest.mark.parametrize("value", ["main", "0123456", "g" * 40])
def test_an_override_must_name_a_full_sha(setting: str, value: str) -> None:
    with pytest.raises(SettingsError, match=setting):
        load_settings(overrides={setting: value})


def test_the_deletion_guard_limits_of_the_settings_are_bounded() -> None:
    with pytest.raises(SettingsError, match="deletion_guard_max_fraction"):
        load_settings(overrides={"deletion_guard_max_fraction": 1.5})


def test_the_apply_defaults_are_those_of_the_cli_and_the_benchmark() -> None:
    """The controller converges as fast as `reconciler apply` and `make bench` measure."""
    settings = load_settings()
    defaults = ApplySettings()

    assert settings.apply_assignment_concurrency == defaults.assignment_concurrency
    assert settings.apply_poll_interval_seconds == defaults.poll_interval_seconds
    assert settings.apply_poll_timeout_seconds == defaults.poll_timeout_seconds
    assert settings.apply_request_status == defaults.request_status


def test_status_by_describe_is_a_setting_the_controller_applies_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECONCILER_APPLY_REQUEST_STATUS", "describe")

    assert load_settings().apply_request_status == "describe"
    monkeypatch.setenv("RECONCILER_APPLY_REQUEST_STATUS", "guess")
    with pytest.raises(SettingsError, match="apply_request_status"):
        load_settings()


def test_the_controller_applies_with_the_apply_settings(tmp_path: Path) -> None:
    repository = tmp_path / "access"
    git(repository.parent, "init", "-q", "-b", "main", str(repository))
    settings = load_settings(
        overrides={
            "repository": str(repository),
            "state_file": tmp_path / "state.json",
            "listen": "off",
            "apply_request_status": "describe",
            "apply_assignment_concurrency": 4,
            "apply_poll_interval_seconds": 0.25,
        }
    )

    controller = build_controller(settings, aws=make_clients(region="us-east-1"))

    assert controller.apply_settings.request_status == "describe"
    assert controller.apply_settings.assignment_concurrency == 4
    assert controller.apply_settings.poll_interval_seconds == 0.25
