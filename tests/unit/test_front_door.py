"""`make run`'s program on the embedded default: starts everything, flows events, stops on Ctrl-C, restarts."""

import json
import os
import pty
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT, wait_until


def start(var_dir):
    env = {k: v for k, v in os.environ.items() if k != "BUS_URL" and not k.endswith("DATABASE_URL")}
    env.update(PSP_VAR_DIR=str(var_dir), LOG_LEVEL="WARNING", AUTH_JWT_SECRET="")
    # A session of its own, so a failing test can stop the launcher's children with it (stop()).
    return subprocess.Popen([sys.executable, "-m", "services.run"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)


def stop(process) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def read_until_ready(process) -> str:
    printed = []
    for line in process.stdout:
        printed.append(line)
        if "Ctrl-C stops everything" in line:
            return "".join(printed)
    raise AssertionError("exited before it was ready:\n" + "".join(printed))


def get(url: str, token: str):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def test_run_seeds_serves_flows_and_stops_cleanly_then_restarts(tmp_path):
    process = start(tmp_path)
    try:
        banner = read_until_ready(process)
        token = next(line.split("=", 1)[1].strip() for line in banner.splitlines() if "export TOKEN=" in line)
        for port in range(8001, 8006):
            assert f"http://127.0.0.1:{port}" in banner
        assert [site["code"] for site in get("http://127.0.0.1:8001/v1/sites", token)["items"]] == ["HG"]
        people = sqlite3.connect(tmp_path / "occupants.sqlite3").execute("SELECT id FROM persons").fetchall()
        assert people

        def everyone_known():
            try:
                return all(get(f"http://127.0.0.1:8005/v1/recipients/{pid}", token) for (pid,) in people)
            except OSError:
                return False

        wait_until(everyone_known, timeout=30, interval=0.5, what="the seeded people in notifications")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=40) == 0
    finally:
        stop(process)

    process = start(tmp_path)
    try:
        banner = read_until_ready(process)
        token = next(line.split("=", 1)[1].strip() for line in banner.splitlines() if "export TOKEN=" in line)
        assert len(get("http://127.0.0.1:8001/v1/sites", token)["items"]) == 1  # seeded once, kept across restarts
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=40) == 0


def test_ctrl_c_on_make_run_in_a_terminal_stops_everything_and_make_exits_0(tmp_path):
    """A person's Ctrl-C signals the terminal's whole foreground process group, make included."""
    env = {k: v for k, v in os.environ.items() if k != "BUS_URL" and not k.endswith("DATABASE_URL")}
    env.update(PSP_VAR_DIR=str(tmp_path), LOG_LEVEL="WARNING", AUTH_JWT_SECRET="")
    pid, terminal = pty.fork()
    if pid == 0:  # the child: a shell in the new terminal, as a person would type it
        os.chdir(ROOT)
        os.execvpe("bash", ["bash", "-c", "make run; echo make-exited-with=$?"], env)
    printed = b""
    try:
        printed = _read_terminal_until(terminal, b"Ctrl-C stops everything", printed)
        os.write(terminal, b"\x03")
        printed = _read_terminal_until(terminal, b"make-exited-with=", printed)
        printed = _read_terminal_until(terminal, b"\n", printed.split(b"make-exited-with=")[-1])
        assert printed.strip() == b"0"
        for port in (8001, 8005, 9101, 9105):
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        subprocess.run(["pkill", "-KILL", "-s", str(pid)], check=False)  # whatever a failure left running
        os.close(terminal)
        os.waitpid(pid, 0)


def _read_terminal_until(terminal: int, marker: bytes, printed: bytes, timeout: float = 90) -> bytes:
    deadline = time.monotonic() + timeout
    while marker not in printed:
        ready, _, _ = select.select([terminal], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no {marker!r} within {timeout}s:\n{printed.decode(errors='replace')[-2000:]}")
        printed += os.read(terminal, 65536)
    return printed
