"""The status page (``/``), ``/api/status`` and ``/access`` of a real controller on the sandbox,
served by the operations endpoint on 127.0.0.1: what they show, what they never show (secrets),
and how they protect themselves (escaping, security headers)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.controller.loop import Controller
from reconciler.controller.serving import OperationsServer
from reconciler.controller.settings import ControllerSettings, load_settings
from reconciler.controller.status_page import StatusPages
from reconciler.controller.wiring import build_controller
from reconciler.planning.reports import PassStatus
from reconciler.sandbox.console import ConsoleActions
from tests.controller.conftest import QUICK, ControllerFactory, break_revision
from tests.support import commit_all

WEB_URL = "https://git.example.com/org/access"


def get(url: str, *, method: str = "GET") -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


Served = Callable[..., tuple[Controller, OperationsServer]]


@pytest.fixture
def served(access_repo: Path, tmp_path: Path, aws_environment: dict[str, str]) -> Iterator[Served]:
    """``served(**settings)``: a controller on the example repository and its operations
    endpoint with the status pages, on a free loopback port; stopped at teardown."""
    servers: list[OperationsServer] = []

    def serve(**overrides: Any) -> tuple[Controller, OperationsServer]:
        settings = load_settings(
            overrides={
                "repository": str(access_repo),
                "cache_dir": tmp_path / "cache",
                "state_file": tmp_path / "state" / "state.json",
                **QUICK,
                "repository_web_url": WEB_URL,
                **overrides,
            }
        )
        controller = build_controller(settings)
        server = OperationsServer(
            host="127.0.0.1",
            port=0,
            registry=controller.metrics.registry,
            ready=lambda: controller.ready,
            pages=StatusPages.of(controller, settings),
        ).start()
        servers.append(server)
        return controller, server

    yield serve
    for server in servers:
        server.stop()


def _drift_and_refusal(controller: Controller, access_repo: Path, console: ConsoleActions) -> str:
    """Apply the example, make a hand change, commit a broken revision, run one pass; returns
    the applied revision."""
    assert controller.run_once().status is PassStatus.APPLIED
    applied = controller.state.last_applied_revision
    assert applied is not None
    console.attach_managed_policy(
        permission_set="AdministratorAccess",
        policy_arn="arn:aws:iam::aws:policy/job-function/Billing",
    )
    break_revision(access_repo)
    controller.run_once()
    return applied


def test_the_page_shows_the_applied_revision_the_drift_with_its_attribute_and_the_refusal(
    served: Served, access_repo: Path, console: ConsoleActions
) -> None:
    controller, server = served()
    applied = _drift_and_refusal(controller, access_repo, console)
    refused = controller.state.last_attempted_revision
    assert refused is not None

    status, headers, page = get(f"{server.url}/")

    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert f'href="{WEB_URL}/commit/{applied}"' in page
    assert f'href="{WEB_URL}/commit/{refused}"' in page
    drift = page[page.index('id="drift"') : page.index('id="pending"')]
    assert "AdministratorAccess" in drift
    assert "managed_policies" in drift
    assert "arn:aws:iam::aws:policy/job-function/Billing" in drift
    refusals = page[page.index('id="refusals"') : page.index('id="failures"')]
    assert "problem in the desired state" in refusals
    assert "users.json" in refusals


def test_the_applied_revision_keeps_the_time_it_was_first_applied_across_restarts(
    make_controller: ControllerFactory,
) -> None:
    controller = make_controller()
    controller.run_once()
    first = controller.state.last_applied_at
    controller.run_once()

    assert first is not None
    assert controller.state.last_applied_at == first
    assert controller.state.last_attempted_at is not None
    assert make_controller().state.last_applied_at == first


def test_api_status_is_the_same_as_json_of_a_documented_version(
    served: Served, access_repo: Path, console: ConsoleActions
) -> None:
    controller, server = served()
    applied = _drift_and_refusal(controller, access_repo, console)

    status, headers, body = get(f"{server.url}/api/status")
    document = json.loads(body)

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert document["version"] == 1
    assert document["applied"]["sha"] == applied
    assert document["applied"]["url"] == f"{WEB_URL}/commit/{applied}"
    assert document["applied"]["since"] is not None
    assert document["attempted"]["sha"] == controller.state.last_attempted_revision
    assert [entry["status"] for entry in document["passes"]] == ["invalid", "applied"]
    assert all(entry["api_calls"] > 0 for entry in document["passes"])
    assert document["drift"]["current"] is True
    assert any(
        item["key"] == "permission-set/AdministratorAccess"
        and any("managed_policies" in line for line in item["detail"])
        for item in document["drift"]["items"]
    )
    assert [entry["phase"] for entry in document["refusals"]] == ["load"]
    assert document["controller"]["mode"] == "heal"
    assert document["access_report"] == "/access"


def test_every_answer_carries_the_security_headers_and_a_policy_naming_the_style_by_hash(
    served: Served,
) -> None:
    controller, server = served()
    controller.run_once()

    for path in ("/", "/api/status", "/access"):
        status, headers, _ = get(f"{server.url}{path}")
        assert status == 200, path
        policy = headers["Content-Security-Policy"]
        assert policy.startswith("default-src 'none'"), path
        assert "frame-ancestors 'none'" in policy, path
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"
    _, headers, page = get(f"{server.url}/")
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in headers["Content-Security-Policy"]
    assert "<script" not in page
    assert "unsafe-inline" not in headers["Content-Security-Policy"]


def test_the_access_report_is_served_once_live_state_was_read(served: Served) -> None:
    controller, server = served()
    before = get(f"{server.url}/access")[0]
    controller.run_once()  # reads the empty instance, then applies
    controller.run_once()  # reads what the first pass applied

    status, _, page = get(f"{server.url}/access")

    assert before == 404
    assert status == 200
    assert "Who has access to what" in page
    assert "jane.doe" in page
    assert 'href="access"' in get(f"{server.url}/")[2]  # relative: works behind a path prefix


def test_the_access_report_shows_what_the_last_pass_applied_without_another_read(
    served: Served,
) -> None:
    """A pass reads, then applies: the report is of what it read with what it applied since
    (projected as AWS applies it), not of the state before its own changes."""
    controller, server = served()
    assert controller.run_once().status is PassStatus.APPLIED  # read the empty instance

    status, _, page = get(f"{server.url}/access")

    assert controller.live is not None
    assert controller.access_state is not None
    assert not controller.live[0].state.assignments  # what the pass read: nothing
    assert controller.access_state[0].state.assignments  # with what it applied
    assert controller.access_state[1] == controller.live[1]  # read then
    assert status == 200
    assert "jane.doe" in page


def test_nothing_writes(served: Served) -> None:
    controller, server = served()
    controller.run_once()

    for path in ("/", "/api/status", "/access"):
        assert get(f"{server.url}{path}", method="POST")[0] == 405
        assert get(f"{server.url}{path}", method="DELETE")[0] == 405


def test_head_answers_without_a_body(served: Served) -> None:
    _, server = served()

    status, headers, body = get(f"{server.url}/", method="HEAD")

    assert (status, body) == (200, "")
    assert headers["Content-Type"] == "text/html; charset=utf-8"


def test_a_display_name_holding_markup_is_shown_as_text(
    served: Served, access_repo: Path, console: ConsoleActions
) -> None:
    path = access_repo / "desired-state" / "groups.json"
    document = json.loads(path.read_text())
    document["groups"][0]["description"] = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    path.write_text(json.dumps(document, indent=2))
    commit_all(access_repo, "A description holding markup")
    controller, server = served(mode="detect")
    controller.run_once()

    page = get(f"{server.url}/")[2]

    assert "<img src=x" not in page
    assert "<script>alert" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page


SECRET = "s3cr3t-T0KEN-value"


def _secret_settings(tmp_path: Path) -> dict[str, Any]:
    """``SECRET`` in every secret setting (each ``SecretStr`` option: the Slack webhook URL,
    and any secret added later) and in every setting the page has no reason to show (files,
    the lease's table and name)."""
    values: dict[str, Any] = {
        name: f"{SECRET}-{name}"
        for name, field in ControllerSettings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    }
    # loopback: the notifier posts after each pass, and is refused at once
    values["slack_webhook_url"] = f"http://127.0.0.1:9/services/T000/B000/{SECRET}"
    hidden = tmp_path / SECRET
    values.update(
        state_file=hidden / "state.json",
        cache_dir=hidden / "cache",
        suspend_file=hidden / "suspend",
        lock_file=hidden / "lock",
        lock_table=f"{SECRET}-table",
        lock_name=f"{SECRET}-lease",
    )
    return values


def test_no_secret_of_any_setting_appears_on_the_page_or_in_the_json(
    served: Served, access_repo: Path, tmp_path: Path
) -> None:
    # The repository URL carries a token (given to git through its environment); every
    # secret-bearing setting holds SECRET.
    secrets = _secret_settings(tmp_path)
    repository = f"file://user:{SECRET}@localhost{access_repo}"
    controller, server = served(**secrets, repository=repository)
    controller.run_once()

    for path in ("/", "/api/status", "/access"):
        body = get(f"{server.url}{path}")[2]
        assert SECRET not in body, path
        assert "/services/T000" not in body, path
    document = json.loads(get(f"{server.url}/api/status")[2])
    assert document["repository"]["location"] == f"file://localhost{access_repo}"


# --- in a real browser --------------------------------------------------------------------

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--window-size=1280,1000",
)
"""Headless, and nothing that reaches past loopback (updates, sync, field trials)."""


def _await_browser_install(deadline_seconds: float = 600.0) -> None:
    """``.ci/run`` installs chromium in the background and names, in
    ``RECONCILER_BROWSER_INSTALL``, a file that reads ``installing`` until the install ends."""
    status = os.environ.get("RECONCILER_BROWSER_INSTALL")
    if not status:
        return
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        try:
            if Path(status).read_text().strip() != "installing":
                return
        except OSError:
            return
        time.sleep(1.0)


def _browser_paths() -> tuple[str, str]:
    """Debian's chromium and chromedriver; without them the test skips, and the reason is
    printed in pytest's summary (``-ra``, in the project's addopts). While ``.ci/run`` is still
    installing them in the background, waits for that install."""
    _await_browser_install()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        reason = (
            "chromium and chromedriver are not installed (.ci/run installs them: apt-get install "
            "chromium chromium-driver); the status page is not tested in a browser"
        )
        pytest.skip(reason)
    try:
        import selenium  # noqa: F401, PLC0415 - in the [test] extra
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[test]')")
    return chromium, driver


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A headless Chromium driven by selenium through chromedriver, with a fresh profile."""
    chromium, driver_path = _browser_paths()
    from selenium import webdriver  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not look for downloads
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def _overflowing(driver: Any) -> list[str]:
    """Elements reaching past the right edge of the viewport, outside a scrolling box; and the
    document, when it scrolls sideways."""
    result: list[str] = driver.execute_script(
        """
        const width = document.documentElement.clientWidth;
        const wide = [];
        if (document.documentElement.scrollWidth > width) {
          wide.push("document " + document.documentElement.scrollWidth + " > " + width);
        }
        for (const element of document.body.querySelectorAll("*")) {
          if (element.closest(".scroll")) continue;
          const box = element.getBoundingClientRect();
          if (box.width && box.right > width + 1) {
            wide.push(element.tagName + "." + element.className + " right=" + box.right);
          }
        }
        return wide;
        """
    )
    return result


def test_in_a_browser_the_page_shows_revision_drift_and_refusal_on_a_laptop_and_a_phone(
    browser: Any,
    served: Served,
    access_repo: Path,
    console: ConsoleActions,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    controller, server = served()
    applied = _drift_and_refusal(controller, access_repo, console)
    refused = controller.state.last_attempted_revision
    assert refused is not None

    browser.get(f"{server.url}/")
    laptop = tmp_path / "status-page.png"
    browser.save_screenshot(str(laptop))

    revisions = browser.find_element(By.ID, "revisions").text
    assert applied in revisions
    assert refused in revisions
    link = browser.find_element(By.CSS_SELECTOR, "#revisions a")
    assert link.get_attribute("href") == f"{WEB_URL}/commit/{applied}"
    drift = browser.find_element(By.ID, "drift").text
    assert "AdministratorAccess" in drift
    assert "managed_policies" in drift
    assert "arn:aws:iam::aws:policy/job-function/Billing" in drift
    refusals = browser.find_element(By.ID, "refusals").text
    assert refused in refusals
    assert "problem in the desired state" in refusals
    assert "users.json" in refusals
    passes = browser.find_elements(By.CSS_SELECTOR, "#passes tbody tr")
    assert len(passes) == 2
    # the hashed stylesheet was allowed by the Content-Security-Policy, nothing was refused
    background = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(246, 248, 250)"
    problems = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert problems == []
    assert _overflowing(browser) == []

    browser.find_element(By.LINK_TEXT, "Who has access to what").click()
    assert browser.current_url == f"{server.url}/access"
    assert "jane.doe" in browser.find_element(By.ID, "grants").text
    browser.find_element(By.ID, "filter").send_keys("no-such-user")
    shown = browser.find_element(By.ID, "shown")
    deadline = time.monotonic() + 10  # the report's own script filters, once typing pauses
    while not shown.text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shown.text.startswith("0 of ")
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []

    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
    )
    browser.get(f"{server.url}/")
    phone = tmp_path / "status-page-phone.png"
    browser.save_screenshot(str(phone))

    assert browser.execute_script("return window.innerWidth") == 390
    assert _overflowing(browser) == []
    assert "managed_policies" in browser.find_element(By.ID, "drift").text
    assert laptop.stat().st_size > 10_000
    assert phone.stat().st_size > 10_000
    # the probe sees an overflow when there is one: an unbreakable line wider than the phone
    browser.execute_script(
        "const wide = document.createElement('span'); wide.textContent = 'x'.repeat(200);"
        "wide.style.whiteSpace = 'nowrap'; document.getElementById('drift').append(wide);"
    )
    assert _overflowing(browser) != []
