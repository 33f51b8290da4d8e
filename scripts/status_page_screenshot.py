"""Take the screenshot of the status page shown in the README (docs/status-page.png).

A controller on the sandbox (the example desired state, as in ``reconciler demo``) applies
the example, meets a hand change and a broken commit, then its status page is captured whole
by headless Chromium (Debian's ``chromium`` and ``chromedriver``, driven by selenium)::

    python -m scripts.status_page_screenshot [OUT.png]   # default: docs/status-page.png

Loopback only: the sandbox, the controller's endpoint and Chromium (its background
connections switched off).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from reconciler.adapters.aws.clients import make_clients
from reconciler.adapters.source import commit_folder
from reconciler.controller.serving import OperationsServer
from reconciler.controller.settings import load_settings
from reconciler.controller.status_page import StatusPages
from reconciler.controller.wiring import build_controller
from reconciler.sandbox import Sandbox, SandboxSettings
from reconciler.sandbox.console import ConsoleActions

ROOT = Path(__file__).resolve().parents[1]
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
WIDTH = 1100


def _capture(url: str, out: Path, profile: Path) -> None:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},900"):
        options.add_argument(flag)
    service = Service(executable_path=shutil.which("chromedriver") or "chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.get(url)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(WIDTH, int(height) + 120)
        driver.get(url)
        driver.save_screenshot(str(out))
    finally:
        driver.quit()


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "status-page.png"
    with (
        Sandbox(SandboxSettings()) as sandbox,
        sandbox.process_environment(),
        tempfile.TemporaryDirectory() as work,
    ):
        sandbox.seed_example_organization()
        repository = Path(work) / "access"
        commit_folder(
            source=ROOT / "desired-state",
            repository=repository,
            message="Desired state of Identity Center",
        )
        settings = load_settings(
            overrides={
                "repository": str(repository),
                "ref": "main",
                "state_file": Path(work) / "state.json",
                "cache_dir": Path(work) / "cache",
                "repository_web_url": "https://github.com/example/access",
                "listen": "127.0.0.1:0",
            }
        )
        controller = build_controller(settings, aws=make_clients())
        controller.run_once()
        ConsoleActions(sandbox.client_environment()).attach_managed_policy(
            permission_set="AdministratorAccess",
            policy_arn="arn:aws:iam::aws:policy/job-function/Billing",
        )
        edited = Path(work) / "edited"
        shutil.copytree(ROOT / "desired-state", edited)
        users = edited / "users.json"
        users.write_text(users.read_text().replace('"users"', '"user"', 1))
        commit_folder(source=edited, repository=repository, message="Rename the users key")
        controller.run_once()
        with OperationsServer(
            host="127.0.0.1",
            port=0,
            registry=controller.metrics.registry,
            ready=lambda: controller.ready,
            pages=StatusPages.of(controller, settings),
        ) as server:
            _capture(f"{server.url}/", out, Path(work) / "chromium-profile")
    sys.stdout.write(f"{out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
