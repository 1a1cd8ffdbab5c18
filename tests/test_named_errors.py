"""Ordinary faults get a named error (what, where, what to do) and exit 1 or 2, never `internal error` / 70.

Each case runs the real `python -m bot` in a child process against real files.
"""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PASTE = "ResourceNotReady: User container has crashed or terminated\nModuleNotFoundError: No module named 'sklearn'\n"


def triage(*args: str | bytes, cwd: Path, preexec=None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TRIAGE_CONFIG", None)
    argv = [os.fsencode(sys.executable), b"-m", b"bot", *(a if isinstance(a, bytes) else os.fsencode(a) for a in args)]
    r = subprocess.run(argv, capture_output=True, env=env, cwd=cwd, timeout=120, preexec_fn=preexec)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace"))


def assert_named(r: subprocess.CompletedProcess[str], *needles: str, code: int | None = None) -> None:
    assert r.returncode in (1, 2), (r.returncode, r.stderr)
    if code is not None:
        assert r.returncode == code, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    for needle in needles:
        assert needle in r.stderr, (needle, r.stderr)


def config(tmp_path: Path, db: Path, extra: str = "") -> Path:
    path = tmp_path / "triage.toml"
    path.write_text(f'[store]\npath = "{db}"\n{extra}', encoding="utf-8")
    return path


@pytest.fixture
def paste(tmp_path: Path) -> Path:
    p = tmp_path / "paste.log"
    p.write_text(PASTE, encoding="utf-8")
    return p


# --- unreadable config ------------------------------------------------------------------------

def test_config_that_is_a_directory(tmp_path):
    (tmp_path / "conf.toml").mkdir()
    assert_named(triage("--config", "conf.toml", "ticket", "list", cwd=tmp_path), "conf.toml: is a directory", code=2)


def test_config_that_is_not_utf8(tmp_path):
    (tmp_path / "conf.toml").write_bytes(b'[store]\npath = "\xff\xfe"\n')
    assert_named(triage("--config", "conf.toml", "ticket", "list", cwd=tmp_path), "conf.toml: not UTF-8 text", code=2)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_config_without_read_permission(tmp_path):
    conf = tmp_path / "conf.toml"
    conf.write_text("[store]\n", encoding="utf-8")
    conf.chmod(0)
    assert_named(triage("--config", "conf.toml", "ticket", "list", cwd=tmp_path), "conf.toml: cannot read the config file", code=2)


# --- the store: read-only directory, locked, full, not a database -------------------------------

def _make_read_only(directory: Path) -> bool:
    """Read-only even for root where possible: the immutable flag (ext4, xfs), else the mode bits."""
    if os.geteuid() == 0:
        return shutil.which("chattr") is not None and subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode == 0
    directory.chmod(0o555)
    return True


def _undo_read_only(directory: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(directory)], capture_output=True)
    else:
        directory.chmod(0o755)


@pytest.mark.parametrize("existing", [False, True], ids=["new-store", "existing-store"])
def test_store_in_a_read_only_directory(tmp_path, paste, existing):
    ro = tmp_path / "ro"
    ro.mkdir()
    conf = config(tmp_path, ro / "triage.db")
    if existing:
        assert triage("--config", str(conf), "ticket", "list", cwd=tmp_path).returncode == 0
        for extra in ro.glob("triage.db-*"):
            extra.unlink()
    if not _make_read_only(ro):
        pytest.skip("cannot make a directory read-only here")
    try:
        for args in (("ticket", "list"), ("ticket", "draft", "text", str(paste))):
            assert_named(triage("--config", str(conf), *args, cwd=tmp_path), str(ro / "triage.db"), "read-only", code=1)
    finally:
        _undo_read_only(ro)


def test_locked_store(tmp_path, paste):
    db = tmp_path / "triage.db"
    conf = config(tmp_path, db, "busy_timeout_s = 0.2\n")
    assert triage("--config", str(conf), "ticket", "list", cwd=tmp_path).returncode == 0
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of a long write
    try:
        for args in (("ticket", "list"), ("ticket", "draft", "text", str(paste))):
            assert_named(triage("--config", str(conf), *args, cwd=tmp_path), str(db), "locked by another process", code=1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert triage("--config", str(conf), "ticket", "list", cwd=tmp_path).returncode == 0  # and fine once released


def test_full_store(tmp_path, paste):
    db = tmp_path / "triage.db"
    conf = config(tmp_path, db)

    def small_files() -> None:  # a full disk, for this process: writes past 16 KiB fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, 16 * 1024))

    r = triage("--config", str(conf), "ticket", "draft", "text", str(paste), cwd=tmp_path, preexec=small_files)
    assert_named(r, str(db), "disk is full", code=1)


def test_store_path_that_is_not_a_database(tmp_path):
    db = tmp_path / "triage.db"
    db.write_text("these are my notes, not a database\n" * 200, encoding="utf-8")
    assert_named(triage("--config", str(config(tmp_path, db)), "ticket", "list", cwd=tmp_path), str(db), "not a triage database", code=1)


# --- export path, ticket numbers, arguments ---------------------------------------------------------

def test_export_to_a_directory_that_does_not_exist(tmp_path, paste):
    conf = config(tmp_path, tmp_path / "triage.db")
    assert triage("--config", str(conf), "ticket", "draft", "text", str(paste), cwd=tmp_path).returncode == 0
    missing = tmp_path / "no" / "such" / "dir" / "ticket.md"
    assert_named(triage("--config", str(conf), "ticket", "export", "1", "-o", str(missing), cwd=tmp_path),
                 f"cannot write {missing}", "does not exist", code=2)


@pytest.mark.parametrize("args", [
    ("ticket", "show", "99999999999999999999"),
    ("ticket", "export", "18446744073709551616"),
    ("ticket", "mark-sent", "0"),
    ("ticket", "edit", "99999999999999999999", "--set", "region=eastus"),
    ("ticket", "draft", "diagnosis", "99999999999999999999"),
])
def test_ticket_number_beyond_range(tmp_path, args):
    conf = config(tmp_path, tmp_path / "triage.db")
    assert_named(triage("--config", str(conf), *args, cwd=tmp_path), args[-1] if args[1] != "edit" else args[2], code=2)


def test_ticket_number_beyond_range_in_slack(tmp_path):
    from tests.fake_slack import FakeSlack
    from tests.test_slack import command, make_app, signed

    slack = FakeSlack()
    try:
        app, _ = make_app(slack, tmp_path)
        app.dispatch(signed(command(slack, "ticket show 99999999999999999999")))
        (answer,) = slack.wait_for("/response_url/cmd")
        assert "no ticket #99999999999999999999" in answer["text"]
    finally:
        slack.close()


@pytest.mark.parametrize("args", [
    (b"diagnose", b"\xff\xfe.log"),
    (b"playbooks", b"show", b"azureml.\xff"),
    (b"ticket", b"draft", b"text", b"--tried", b"retried \xe9", b"-"),
    (b"--config", b"/tmp/\xff.toml", b"ticket", b"list"),
])
def test_argument_that_is_not_utf8(tmp_path, args):
    r = triage(*args, cwd=tmp_path)
    bad = next(a for a in args if not _utf8(a))
    assert_named(r, "is not valid UTF-8", bad.decode("utf-8", "backslashreplace"), code=2)


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False
