"""``python -m reconciler`` for tests, without paying the imports each time: a pre-forking
launcher (a "zygote").

A real ``python -m reconciler`` spends about 0.5 s of CPU importing (boto3, pydantic and its
model schemas, structlog, rich, GitPython) before a command that then takes tens of
milliseconds; the suite runs hundreds of them. :func:`run` gives the same result as::

    subprocess.run([sys.executable, "-m", "reconciler", *args], capture_output=True, text=True,
                   env=env, cwd=cwd, timeout=timeout, check=False)

but from a process forked off a helper that imported the reconciler once. The helper (one per
pytest process, started on first use) is single-threaded and never runs a command itself, so
each child starts like a fresh interpreter that has imported the modules and done nothing else
but have botocore parse the API models its clients load (``_parse_botocore_models``: parsed
data only; the clients built for it are dropped): no logging or structlog configuration, no
boto3 session or botocore client in use, no warning shown.
The child then does what the interpreter does for ``-m``: sets ``os.environ`` to ``env``
(C-level too, and the time zone), ``chdir(cwd)``, takes fresh pipes as standard output and
error (not terminals) and ``/dev/null`` as standard input, sets ``sys.argv`` and runs
``reconciler/__main__.py`` as ``__main__``; it leaves through the interpreter's own exit
(``atexit``, non-daemon threads joined, stdio flushed, an uncaught exception printed with exit
status 1). The pytest process itself is never forked (its sandbox threads could deadlock a
child).

A real process is used instead when ``env`` differs from the helper's in a variable read when
the interpreter starts or a module is imported (``PYTHON*``, locale, ``PATH``, GitPython's and
structlog's), when the helper could not start (the package does not import: the real process
shows why), and everywhere when ``RECONCILER_TEST_REAL_CLI=1``. What a child cannot reproduce:
a fresh hash seed per command (children share their helper's) and its own process id's parent.

Linux only (``os.pidfd_open``, file descriptors passed over a Unix socket); elsewhere every
call is a real process.
"""

from __future__ import annotations

import contextlib
import json
import locale
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REAL_CLI_VARIABLE = "RECONCILER_TEST_REAL_CLI"
"""Set to ``1`` to run every command of the session as a real ``python -m reconciler``."""

_STARTUP_NAMES = frozenset(
    {"PATH", "LANG", "LANGUAGE", "NO_COLOR", "FORCE_COLOR", "SLACKCLIENT_SKIP_DEPRECATION"}
)
_STARTUP_PREFIXES = ("PYTHON", "LC_", "GIT_PYTHON_")
"""Variables the interpreter reads when it starts (stdio encoding, paths, flags) or a module
reads when imported (GitPython finds git on ``PATH``; structlog's default colours): a child of
the helper would not see a change in them, so a command with a different value runs as a real
process."""

_ENVIRONMENT_AT_IMPORT = dict(os.environ)
"""The process's environment before any test changed it: the helper starts with it, so that a
test changing ``PATH`` (say) for its own commands does not decide what every later one sees."""

_BOOTSTRAP = (
    "import os, runpy, sys; sys.path[0] = os.getcwd(); "
    "runpy.run_path(sys.argv[1], run_name='__cli_zygote__')['serve'](int(sys.argv[2]))"
)
"""The helper's command line: like ``-m``, the current folder first on ``sys.path``."""

_EXCLUDED = ("reconciler.sandbox", "reconciler.demo", "reconciler.__main__")
"""Not imported by the helper: the sandbox imports moto, which hooks into every botocore
session made after it; a real command imports it only when it needs it."""

_ALSO_IMPORTED = (
    # Imported lazily by the commands (found with `python -X importtime` on plan and apply).
    "rich.progress",
    "rich.table",
    "rich.markup",
    "rich.live",
    "boto3.session",
    "botocore.client",
    "botocore.args",
    "botocore.regions",
    "botocore.endpoint",
    "botocore.httpsession",
    "botocore.parsers",
    "botocore.serialize",
    "botocore.signers",
    "botocore.auth",
    "botocore.credentials",
    "botocore.retries.standard",
    "botocore.retries.adaptive",
    "botocore.endpoint_provider",
    "botocore.useragent",
)


_KILL_GRACE_SECONDS = 60.0
"""How long a killed command may take to close its output and be reaped."""


def _startup_view(environment: Mapping[str, str]) -> dict[str, str]:
    return {
        key: value
        for key, value in environment.items()
        if key in _STARTUP_NAMES or key.startswith(_STARTUP_PREFIXES)
    }


def _text(data: bytes) -> str:
    """Bytes read from a pipe as ``subprocess.run(text=True)`` gives them: the locale's
    encoding, strict, universal newlines."""
    encoding = "utf-8" if sys.flags.utf8_mode else locale.getpreferredencoding(False)
    return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")


class Zygote:
    """The helper process of this pytest process, started on first use; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._startup: dict[str, str] = {}
        self._unavailable = not hasattr(os, "pidfd_open")

    def _start(self) -> None:
        """Start the helper and wait until it has imported everything (or failed to)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, __file__, str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=_ENVIRONMENT_AT_IMPORT,
            )
        self._startup = _startup_view(_ENVIRONMENT_AT_IMPORT)
        ours.settimeout(300)
        try:
            ready = ours.recv(64)
        except OSError:
            ready = b""
        ours.settimeout(None)
        if ready != b"ready":  # the package does not import: real processes show why
            ours.close()
            self.close()
            self._unavailable = True
            return
        self._control = ours

    def usable_for(self, environment: Mapping[str, str]) -> bool:
        """Whether a command with ``environment`` can run as a child of the helper."""
        if self._unavailable or os.environ.get(REAL_CLI_VARIABLE) == "1":
            return False
        with self._lock:
            if self._control is None:
                self._start()
        return not self._unavailable and _startup_view(environment) == self._startup

    def run(
        self,
        command: Sequence[str],
        arguments: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path | str,
        timeout: float | None,
    ) -> subprocess.CompletedProcess[str]:
        """``subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd,
        timeout=timeout, check=False)`` for ``command`` = ``python -m reconciler ARGUMENTS``,
        forked from the helper. Raises :class:`subprocess.TimeoutExpired` after killing the
        command, as ``subprocess.run`` does, and :class:`RuntimeError` if the helper died."""
        control = self._control
        if control is None:
            raise RuntimeError("the CLI helper is not running")
        request = json.dumps(
            {"arguments": list(arguments), "env": dict(env), "cwd": str(Path(cwd).resolve())}
        ).encode()
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                socket.send_fds(control, [request], [theirs.fileno(), out_write, err_write])
        finally:
            theirs.close()
            os.close(out_write)
            os.close(err_write)
        with (
            ours,
            open(out_read, "rb", buffering=0) as out,
            open(err_read, "rb", buffering=0) as err,
        ):
            return self._collect(command, ours, out, err, timeout)

    @staticmethod
    def _collect(
        command: Sequence[str],
        reply: socket.socket,
        out: Any,
        err: Any,
        timeout: float | None,
    ) -> subprocess.CompletedProcess[str]:
        """Read both pipes to their end and the exit status, like ``communicate``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        chunks: dict[Any, list[bytes]] = {out: [], err: []}
        replies = b""
        killed = False
        with selectors.DefaultSelector() as selector:
            for stream in (out, err, reply):
                selector.register(stream, selectors.EVENT_READ)
            while selector.get_map():
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                events = selector.select(wait)
                if not events and killed:
                    raise RuntimeError(f"the CLI helper did not kill {list(command)!r}")
                if not events:  # timed out: kill it, then read what it left
                    with contextlib.suppress(OSError):
                        reply.sendall(b"kill\n")
                    killed = True
                    deadline = time.monotonic() + _KILL_GRACE_SECONDS
                    continue
                for key, _ in events:
                    stream = key.fileobj
                    if stream is reply:
                        try:
                            data = reply.recv(4096)
                        except ConnectionResetError:
                            data = b""
                        replies += data
                    else:
                        data = stream.read(65536)
                        chunks[stream].append(data)
                    if not data:
                        selector.unregister(stream)
        lines = replies.decode().split()
        if len(lines) < 2:
            raise RuntimeError(f"the CLI helper died while running {list(command)!r}")
        stdout, stderr = (_text(b"".join(chunks[stream])) for stream in (out, err))
        if killed:
            raise subprocess.TimeoutExpired(list(command), timeout or 0, stdout, stderr)
        return subprocess.CompletedProcess(list(command), int(lines[1]), stdout, stderr)

    def close(self) -> None:
        """Stop the helper (its children have finished: every call waits for its own)."""
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


ZYGOTE = Zygote()
"""This pytest process's helper."""


def run(
    arguments: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | str | None = None,
    timeout: float | None = None,
    real_process: bool = False,
) -> subprocess.CompletedProcess[str]:
    """The result of ``python -m reconciler ARGUMENTS`` with ``env`` in ``cwd`` (default: the
    current folder), output captured as text: from the helper when it can, else (or with
    ``real_process``) a real process. ``subprocess.TimeoutExpired`` after ``timeout`` s."""
    command = [sys.executable, "-m", "reconciler", *arguments]
    findable = cwd is None or Path(cwd).is_dir()  # else the real error: FileNotFoundError...
    if not real_process and findable and ZYGOTE.usable_for(env):
        return ZYGOTE.run(command, arguments, env=env, cwd=cwd or os.getcwd(), timeout=timeout)
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


# The helper's side: everything below runs in the helper process and its children only.


def _preload() -> None:
    """Import what the commands import, and nothing that hooks into other libraries."""
    import importlib  # noqa: PLC0415
    import pkgutil  # noqa: PLC0415

    packages = ["reconciler"]
    while packages:
        package = importlib.import_module(packages.pop())
        for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            if module.name.startswith(_EXCLUDED):
                continue
            if module.ispkg:
                packages.append(module.name)
            else:
                importlib.import_module(module.name)
    for name in _ALSO_IMPORTED:
        importlib.import_module(name)
    _parse_botocore_models()
    if "moto" in sys.modules:
        raise RuntimeError("the CLI helper imported moto")


def _parse_botocore_models() -> None:
    """Have botocore parse the models and endpoint rules a command's clients load, into the data
    loader the product's sessions share (``make_clients``), as a command's first clients would:
    a child then builds its clients from parsed models. The clients built here are dropped (they
    start no thread and open no connection); a profile that does not exist skips this."""
    from unittest import mock  # noqa: PLC0415

    from reconciler.adapters.aws.clients import make_clients  # noqa: PLC0415
    from reconciler.errors import ConfigurationError  # noqa: PLC0415

    # Credentials of no one, so that botocore looks for none (the instance metadata service
    # among its places); the helper's environment is put back as it was.
    placeholders = {"AWS_ACCESS_KEY_ID": "preload", "AWS_SECRET_ACCESS_KEY": "preload"}
    try:
        with mock.patch.dict(os.environ, placeholders):
            clients = make_clients(region="us-east-1")
    except ConfigurationError:
        return
    clients.sso_admin.can_paginate("list_instances")  # loads the service's paginators
    clients.identitystore.can_paginate("list_users")
    clients.organizations.can_paginate("list_accounts")


def _single_threaded() -> bool:
    return threading.active_count() == 1 and len(os.listdir("/proc/self/task")) == 1


def serve(control_fd: int) -> None:
    """The helper's loop: fork a child per request; in a child, run the command (the
    interpreter's exit ends the child, with the command's status)."""
    control = socket.socket(fileno=control_fd)
    try:
        _preload()
        if not _single_threaded():
            raise RuntimeError("the CLI helper is not single-threaded")
    except BaseException:
        control.close()  # the client sees no "ready": real processes instead
        raise
    control.sendall(b"ready")
    request = _serve(control)  # returns in a child only
    _become_the_command(request)


def _serve(control: socket.socket) -> dict[str, Any]:
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, ("control", None))
    running: dict[int, tuple[socket.socket, int]] = {}  # pid → (reply socket, pidfd)
    while True:
        for key, _ in selector.select():
            kind, pid = key.data
            if kind == "control":
                message, fds, _flags, _address = socket.recv_fds(control, 1 << 20, 3)
                if not message:  # the pytest process closed its end: the session is over
                    os._exit(0)
                reply_fd, out_fd, err_fd = fds
                child = os.fork() if _single_threaded() else -1
                if child == 0:
                    selector.close()
                    control.close()
                    os.close(reply_fd)
                    for reply, pidfd in running.values():
                        reply.close()
                        os.close(pidfd)
                    os.dup2(out_fd, 1)
                    os.dup2(err_fd, 2)
                    os.close(out_fd)
                    os.close(err_fd)
                    null = os.open(os.devnull, os.O_RDONLY)
                    os.dup2(null, 0)
                    os.close(null)
                    request: dict[str, Any] = json.loads(message)
                    return request
                os.close(out_fd)
                os.close(err_fd)
                reply = socket.socket(fileno=reply_fd)
                if child < 0:
                    reply.close()  # the client reports the helper broken
                    continue
                pidfd = os.pidfd_open(child)
                running[child] = (reply, pidfd)
                with contextlib.suppress(OSError):
                    reply.sendall(f"{child}\n".encode())
                selector.register(pidfd, selectors.EVENT_READ, ("exit", child))
                selector.register(reply, selectors.EVENT_READ, ("reply", child))
            elif kind == "exit":
                reply, pidfd = running.pop(pid)
                _, status = os.waitpid(pid, 0)
                selector.unregister(pidfd)
                os.close(pidfd)
                with contextlib.suppress(OSError):
                    reply.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
                with contextlib.suppress(KeyError):
                    selector.unregister(reply)
                reply.close()
            else:  # "kill" (timed out), or the client went away: either way the child ends
                reply, pidfd = running[pid]
                with contextlib.suppress(OSError):
                    reply.recv(4096)  # read, else closing it would reset the client's end
                selector.unregister(reply)
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)


def _become_the_command(request: dict[str, Any]) -> None:
    """In a forked child: do what ``python -m reconciler ARGUMENTS`` does in ``cwd`` with
    ``env``. Never returns: ``reconciler/__main__.py`` ends with ``sys.exit``."""
    import runpy  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    tempfile.tempdir = None  # found again from TMPDIR, as a fresh process would
    os.chdir(request["cwd"])
    sys.path[0] = request["cwd"]
    sys.argv = ["-m", *request["arguments"]]
    try:
        runpy._run_module_as_main("reconciler")  # type: ignore[attr-defined]  # what -m calls
        status = 0
    except SystemExit as stop:
        status = _exit_status(stop)
    except KeyboardInterrupt:
        _finish()
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # as the interpreter ends on one
        os.kill(os.getpid(), signal.SIGINT)
        status = 130
    except BaseException:
        sys.excepthook(*sys.exc_info())
        status = 1
    os._exit(_finish(status))


def _exit_status(stop: SystemExit) -> int:
    """The status the interpreter exits with for ``stop`` (printing a message it carries)."""
    if stop.code is None:
        return 0
    if isinstance(stop.code, int):
        return stop.code & 0xFF  # as the operating system truncates it
    with contextlib.suppress(Exception):
        print(stop.code, file=sys.stderr)
    return 1


def _finish(status: int = 0) -> int:
    """What the interpreter does at exit that a program can see, without tearing down every
    module (which would copy the helper's memory into each child): join the non-daemon
    threads, run ``atexit`` functions, flush standard output (120 if that fails) and error."""
    import atexit  # noqa: PLC0415

    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
    except Exception:
        sys.unraisablehook(_Unraisable(sys.exc_info()[1], sys.stdout))
        status = 120
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    return status


class _Unraisable:
    """The argument of ``sys.unraisablehook`` for a failed flush of standard output."""

    def __init__(self, error: BaseException | None, target: object) -> None:
        self.exc_type = type(error)
        self.exc_value = error
        self.exc_traceback = error.__traceback__ if error else None
        self.err_msg = "Exception ignored on flushing sys.stdout"
        self.object = target
