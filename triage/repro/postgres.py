"""A throwaway PostgreSQL: initdb in a temp dir, loopback only, a free port, removed afterwards.

The one home for starting a server of our own: `triage repro db --embedded` runs its storm
against one, and the tests and benches start theirs through it (tests/database/pg_server.py
seeds it like the 2021 incident).

The server listens on 127.0.0.1 only, with its unix socket in the temp dir; it runs as
``nobody`` when we are root (postgres refuses to run as root). Durability is off (fsync,
synchronous_commit, full_page_writes): the data is gone when it stops anyway. The superuser
``postgres`` connects over the unix socket without a password (``admin``); TCP clients
authenticate as ``auth_host`` says (scram-sha-256 for the tests, so a real password travels;
trust for the reproducer, which then holds no password at all).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any, Mapping

SUPERUSER = "postgres"
# initdb, pg_ctl start/stop and their waits: generous for a loaded 2-core machine, bounded.
TOOL_TIMEOUT_S = 120
START_WAIT_S = 60


class PostgresMissing(FileNotFoundError):
    """The server binaries (initdb, pg_ctl) are not installed here."""


class PostgresFailed(RuntimeError):
    """initdb, start or stop failed; the message ends with the server log's last lines."""


def find_bindir() -> str | None:
    """The newest /usr/lib/postgresql/<version>/bin (Debian's layout), else initdb on PATH."""
    def version(path: str) -> int:
        part = path.split("/")[-3]
        return int(part) if part.isdigit() else 0

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if candidates:
        return os.path.dirname(candidates[-1])
    found = shutil.which("initdb")
    return os.path.dirname(found) if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _demote(user: str | None) -> dict[str, Any]:
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _run(argv: list[str], run_as: str | None, cwd: str) -> None:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, **_demote(run_as),
                          env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": cwd})
    if proc.returncode != 0:
        output = proc.stderr.strip() or proc.stdout.strip()
        raise PostgresFailed(f"{os.path.basename(argv[0])} {argv[1] if len(argv) > 1 else ''} failed "
                             f"({proc.returncode}): {output}")


def _tail(path: str, lines: int = 5) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return " | ".join(fh.read().splitlines()[-lines:])
    except OSError:
        return ""


def has_pg_stat_statements(bindir: str) -> bool:
    pg_config = os.path.join(bindir, "pg_config")
    libdir = os.path.join(os.path.dirname(bindir), "lib")
    if os.path.exists(pg_config):
        libdir = subprocess.run([pg_config, "--pkglibdir"], capture_output=True, text=True,
                                timeout=TOOL_TIMEOUT_S).stdout.strip() or libdir
    return os.path.exists(os.path.join(libdir, "pg_stat_statements.so"))


@dataclass
class EmbeddedPostgres:
    """A running throwaway server; ``stop()`` (or leaving the ``with``) removes everything."""

    bindir: str
    root: str
    port: int
    run_as: str | None
    has_pg_stat_statements: bool
    settings: dict[str, str] = field(default_factory=dict)

    host = "127.0.0.1"

    @property
    def socket_dir(self) -> str:
        return self.root

    @property
    def data_dir(self) -> str:
        return os.path.join(self.root, "data")

    @property
    def log_path(self) -> str:
        return os.path.join(self.root, "server.log")

    def tool(self, name: str) -> str:
        return os.path.join(self.bindir, name)

    def admin(self, database: str = SUPERUSER, **kwargs: Any) -> Any:
        """A superuser connection over the unix socket (trust): setup, monitoring, DROP INDEX.
        It may use the slots max_connections keeps for superusers."""
        import psycopg

        return psycopg.connect(host=self.socket_dir, port=self.port, user=SUPERUSER, dbname=database,
                               autocommit=True, connect_timeout=5, **kwargs)

    def tcp_dsn(self, user: str, database: str, password: str | None = None) -> str:
        auth = f"{user}:{password}" if password is not None else user
        return f"postgresql://{auth}@{self.host}:{self.port}/{database}"

    def restart(self, settings: Mapping[str, str]) -> None:
        """Apply settings that need a restart (max_connections), via postgresql.auto.conf."""
        with self.admin() as conn:
            for key, value in settings.items():
                conn.execute(f"ALTER SYSTEM SET {key} = '{value}'")
        self.settings.update(settings)
        _run([self.tool("pg_ctl"), "-D", self.data_dir, "-l", self.log_path, "-w", "-t", str(START_WAIT_S),
              "-m", "fast", "restart"], self.run_as, self.root)

    def stop(self) -> None:
        try:
            if os.path.exists(os.path.join(self.data_dir, "postmaster.pid")):
                # immediate: nothing to keep, and a storm's backends need not finish politely.
                _run([self.tool("pg_ctl"), "-D", self.data_dir, "-m", "immediate", "-w", "stop"], self.run_as,
                     self.root)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "EmbeddedPostgres":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(*, settings: Mapping[str, str] | None = None, auth_host: str = "trust",
          superuser_password: str | None = None, preload_pg_stat_statements: bool = False,
          server_class: type[EmbeddedPostgres] = EmbeddedPostgres) -> EmbeddedPostgres:
    """initdb, configure and start a server (an instance of ``server_class``); PostgresMissing
    without the binaries, PostgresFailed (with the log's last lines) when a step fails.
    Nothing is left behind on failure."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresMissing("PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin "
                              "or on PATH (Debian/Ubuntu: apt-get install postgresql)")
    run_as = "nobody" if os.geteuid() == 0 else None
    # Not under a test's tmp dir: its parents are mode 0700 for root, and nobody must enter.
    root = tempfile.mkdtemp(prefix="triage-pg-")
    try:
        uid = pwd.getpwnam(run_as).pw_uid if run_as else -1
        gid = pwd.getpwnam(run_as).pw_gid if run_as else -1
        os.chown(root, uid, gid)
        server = server_class(bindir, root, free_port(), run_as,
                                  preload_pg_stat_statements and has_pg_stat_statements(bindir))
        argv = [server.tool("initdb"), "-D", server.data_dir, "-U", SUPERUSER, "-E", "UTF8", "--no-sync",
                "--auth-local=trust", f"--auth-host={auth_host}"]
        if superuser_password is not None:
            pwfile = os.path.join(root, "superuser-pw")
            with open(pwfile, "w") as fh:
                fh.write(superuser_password + "\n")
            os.chown(pwfile, uid, gid)
            argv += ["--pwfile", pwfile]
        _run(argv, run_as, root)
        server.settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(server.port),
            "unix_socket_directories": f"'{root}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "password_encryption": "'scram-sha-256'",
            **(settings or {}),
        }
        if server.has_pg_stat_statements:
            server.settings["shared_preload_libraries"] = "'pg_stat_statements'"
        with open(os.path.join(server.data_dir, "postgresql.conf"), "a") as fh:
            fh.write("\n# triage\n" + "".join(f"{k} = {v}\n" for k, v in server.settings.items()))
        _run([server.tool("pg_ctl"), "-D", server.data_dir, "-l", server.log_path, "-w", "-t", str(START_WAIT_S),
              "start"], run_as, root)
    except BaseException as exc:
        log = _tail(os.path.join(root, "server.log"))
        _stop_dir(root, bindir, run_as)
        if log and isinstance(exc, PostgresFailed):
            raise PostgresFailed(f"{exc}; server log ends: {log}") from None
        raise
    return server


def _stop_dir(root: str, bindir: str, run_as: str | None) -> None:
    data = os.path.join(root, "data")
    try:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            _run([os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], run_as, root)
    except (PostgresFailed, OSError, subprocess.SubprocessError):
        pass  # already failing: the first error is the one to report
    finally:
        shutil.rmtree(root, ignore_errors=True)
