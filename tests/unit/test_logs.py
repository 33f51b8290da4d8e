"""Logging configuration: where lines go, what they look like, what is filtered."""

from __future__ import annotations

import io
import json
import logging
import sys
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import structlog

from reconciler.logs import configure_logging


class TerminalStream(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in lines(stream)]


def test_writes_json_lines_off_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)

    structlog.get_logger().info("plan_built", operations=4)

    [record] = records(stream)
    assert record["event"] == "plan_built"
    assert record["operations"] == 4
    assert record["level"] == "info"


def test_writes_console_lines_on_a_terminal() -> None:
    stream = TerminalStream()
    configure_logging(stream=stream)

    structlog.get_logger().info("plan_built", operations=4)

    [line] = lines(stream)
    assert "plan_built" in line
    assert "\x1b[" in line  # coloured
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_json_true_forces_json_on_a_terminal() -> None:
    stream = TerminalStream()
    configure_logging(stream=stream, json=True)

    structlog.get_logger().info("plan_built")

    assert records(stream)[0]["event"] == "plan_built"


def test_json_false_gives_uncoloured_console_lines_off_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream, json=False)

    structlog.get_logger().info("plan_built", operations=4)

    [line] = lines(stream)
    assert "plan_built" in line
    assert "operations=4" in line
    assert "\x1b[" not in line


def test_timestamp_is_iso_8601_in_utc() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)

    structlog.get_logger().info("tick")

    stamp = records(stream)[0]["timestamp"]
    assert isinstance(stamp, str)
    assert stamp.endswith("Z")
    assert datetime.fromisoformat(stamp).utcoffset() == timedelta(0)


def test_drops_events_below_the_level() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream, level="warning")
    log = structlog.get_logger()

    log.info("hidden")
    log.warning("shown")

    assert [r["event"] for r in records(stream)] == ["shown"]


def test_debug_level_keeps_debug_events() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream, level="DEBUG")

    structlog.get_logger().debug("detail")

    assert [r["event"] for r in records(stream)] == ["detail"]


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown log level 'loud'"):
        configure_logging(level="loud", stream=io.StringIO())


def test_bound_context_is_on_every_line() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    log = structlog.get_logger()

    with structlog.contextvars.bound_contextvars(pass_id="3f2a9c"):
        log.info("fetched")
        log.info("planned")
    log.info("idle")

    assert [r.get("pass_id") for r in records(stream)] == ["3f2a9c", "3f2a9c", None]


def test_goes_to_standard_error_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()

    structlog.get_logger().info("to_stderr")

    captured = capsys.readouterr()
    assert captured.out == ""
    assert json.loads(captured.err)["event"] == "to_stderr"


def test_standard_output_is_refused() -> None:
    with pytest.raises(ValueError, match=r"standard error"):
        configure_logging(stream=sys.stdout)


def test_a_logger_in_use_follows_a_later_configuration() -> None:
    log = structlog.get_logger()  # as a module would at import time
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first)
    log.info("before")

    configure_logging(stream=second)
    log.info("after")

    assert [r["event"] for r in records(first)] == ["before"]
    assert [r["event"] for r in records(second)] == ["after"]


def test_reconfiguring_moves_lines_to_the_new_stream() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first)
    configure_logging(stream=second)

    structlog.get_logger().info("moved")
    logging.getLogger("botocore").warning("also moved")

    assert first.getvalue() == ""
    assert [r["event"] for r in records(second)] == ["moved", "also moved"]


def test_standard_library_warnings_are_rendered_as_json() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)

    logging.getLogger("botocore.credentials").warning("retrying %s", "ListAccounts")

    [record] = records(stream)
    assert record["event"] == "retrying ListAccounts"
    assert record["level"] == "warning"
    assert record["logger"] == "botocore.credentials"


def test_python_warnings_are_rendered_as_json() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("old option", UserWarning, stacklevel=1)

    [record] = records(stream)
    assert "UserWarning: old option" in str(record["event"])
    assert record["logger"] == "py.warnings"


def test_standard_library_info_is_dropped() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream, level="debug")

    logging.getLogger("botocore.credentials").info("Found credentials in environment variables.")

    assert stream.getvalue() == ""


def test_exception_is_rendered_as_structured_json() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        structlog.get_logger().exception("pass_failed")

    [record] = records(stream)
    assert record["event"] == "pass_failed"
    exception = record["exception"]
    assert isinstance(exception, list)
    assert exception[0]["exc_type"] == "RuntimeError"
    assert exception[0]["exc_value"] == "boom"


def test_capture_logs_sees_events_with_their_fields() -> None:
    configure_logging(stream=io.StringIO())

    with structlog.testing.capture_logs() as captured:
        structlog.get_logger().info("applied", operation="CreateAccountAssignment")

    assert captured == [
        {"event": "applied", "operation": "CreateAccountAssignment", "log_level": "info"}
    ]
