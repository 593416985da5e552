"""`make run`: migrate, seed a demo organization, and run every service's API and worker until Ctrl-C.

With no BUS_URL and no database URLs this is the embedded default: SQLite files and a file-based bus under
var/, nothing else to install. With BUS_URL and `<SERVICE>_DATABASE_URL` set, the same command runs on
RabbitMQ and PostgreSQL.
"""

from __future__ import annotations

import importlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

from services import NAMES
from shared import auth, db
from shared.cli import migrate
from shared.config import Settings
from shared.service import load

DEMO_ORGANIZATION = "00000000-0000-4000-8000-000000000001"
API_PORTS = dict(zip(NAMES, range(8001, 8006)))
WORKER_PORTS = dict(zip(NAMES, range(9101, 9106)))


def _secret(settings: Settings) -> str:
    """A local signing secret, kept in var/ so tokens stay valid across restarts."""
    if settings.auth_jwt_secret:
        return settings.auth_jwt_secret
    path = settings.var_dir / "jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def seed_demo(settings: Settings) -> None:
    """Each service seeds its own demo data (`services/<name>/demo.py`), once: a seed skips what exists."""
    for name in NAMES:
        try:
            demo = importlib.import_module(f"services.{name}.demo")
        except ModuleNotFoundError:
            continue
        engine = db.make_engine(settings.database_url_for(name))
        with db.make_sessionmaker(engine)() as session, session.begin():
            demo.seed(session, DEMO_ORGANIZATION)
        engine.dispose()


def seed_live_demo(settings: Settings, timeout: float = 120) -> None:
    """Demo data that needs read models fed by other services' events (a ticket needs occupants' units).

    A service's `demo.seed_live(session, organization_id)` answers True once it has seeded, False while
    what it needs has not arrived yet; it is asked again each second while the workers handle the events.
    """
    pending = {}
    for name in NAMES:
        try:
            demo = importlib.import_module(f"services.{name}.demo")
        except ModuleNotFoundError:
            continue
        if hasattr(demo, "seed_live"):
            pending[name] = demo.seed_live
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for name, seed in list(pending.items()):
            engine = db.make_engine(settings.database_url_for(name))
            with db.make_sessionmaker(engine)() as session, session.begin():
                if seed(session, DEMO_ORGANIZATION):
                    del pending[name]
            engine.dispose()
        if pending:
            time.sleep(1)
    for name in pending:
        print(f"{name}'s live demo data not seeded: what it needs did not arrive within {timeout:.0f}s",
              file=sys.stderr)


def _wait_ready(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s")


def _start(settings: Settings, secret: str) -> dict[str, subprocess.Popen]:
    metrics_root = settings.var_dir.resolve() / "metrics"
    shutil.rmtree(metrics_root, ignore_errors=True)
    processes = {}
    for name in NAMES:
        env = {**os.environ, "AUTH_JWT_SECRET": secret, "PSP_VAR_DIR": str(settings.var_dir.resolve())}
        metrics_dir = metrics_root / name
        metrics_dir.mkdir(parents=True)
        processes[f"{name} api"] = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:shared.gunicorn_conf", f"services.{name}.app:create_app()"],
            env={**env, "PORT": str(API_PORTS[name]), "WEB_CONCURRENCY": env.get("WEB_CONCURRENCY", "1"),
                 "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        )
        processes[f"{name} worker"] = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "worker", name],
            env={**env, "WORKER_PORT": str(WORKER_PORTS[name])},
        )
    return processes


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 25
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def _own_the_terminal():
    """Make this process group the terminal's foreground group while the platform runs.

    Ctrl-C signals the foreground process group. Without this, `make run` itself would get the SIGINT
    too, and make always dies of it (exit 130) whatever its recipe answers; with it, Ctrl-C reaches this
    launcher and its children, which stop cleanly, and make sees the launcher's exit status (0).
    """
    try:
        terminal = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        yield  # no terminal: signals come from whoever started us
        return
    previous = os.tcgetpgrp(terminal)
    owns = previous == os.getpgrp() and os.getpid() != os.getsid(0)
    if owns:
        os.setpgid(0, 0)
        signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # a background group may not otherwise take the terminal
        os.tcsetpgrp(terminal, os.getpgrp())
    try:
        yield
    finally:
        if owns:
            os.tcsetpgrp(terminal, previous)
        os.close(terminal)


def main() -> int:
    try:
        with _own_the_terminal():
            return _run()
    except KeyboardInterrupt:
        return 0


def _run() -> int:
    settings = Settings()
    secret = _secret(settings)
    os.environ["AUTH_JWT_SECRET"] = secret
    settings = Settings()
    mode = "RabbitMQ" if settings.bus_url else f"embedded (SQLite and file bus under {settings.var_dir}/)"
    print(f"Property service platform — {mode}", flush=True)
    for name in NAMES:
        migrate(load(name), settings)
    seed_demo(settings)

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    processes = _start(settings, secret)
    try:
        for name in NAMES:
            _wait_ready(f"http://127.0.0.1:{API_PORTS[name]}/readyz", processes[f"{name} api"])
            _wait_ready(f"http://127.0.0.1:{WORKER_PORTS[name]}/livez", processes[f"{name} worker"])
        seed_live_demo(settings)
        token = auth.mint(settings, subject="demo-front-desk", organization_id=DEMO_ORGANIZATION,
                          roles=["cs_specialist"], sites=[auth.ALL_SITES])
        print("\nReady:")
        for name in NAMES:
            print(f"  {name:<14} http://127.0.0.1:{API_PORTS[name]}  (docs /docs, worker metrics "
                  f"http://127.0.0.1:{WORKER_PORTS[name]}/metrics)")
        print(f"\nDemo token (12 h, organization {DEMO_ORGANIZATION}):\n  export TOKEN={token}\n")
        print("Try:\n  curl -s -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8001/v1/sites\n")
        print("Ctrl-C stops everything.", flush=True)
        while not stopping:
            for label, process in processes.items():
                if process.poll() is not None:
                    print(f"{label} exited with {process.returncode}; stopping", file=sys.stderr)
                    return 1
            time.sleep(0.5)
        return 0
    finally:
        print("Stopping…", flush=True)
        _stop(processes)


if __name__ == "__main__":
    sys.exit(main())
