"""Throw-away database engines for the tests: a PostgreSQL server from the machine's binaries
and a local Spark session, each skipped (or, in CI, failed) when its software is missing."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_PASSWORD = "s3cret-Pa55word"


def missing(what: str) -> None:
    """Skip the test for lack of ``what``; in CI (``USAGE_WIDGETS_REQUIRE_ENGINES=1``) fail."""
    if os.environ.get("USAGE_WIDGETS_REQUIRE_ENGINES") == "1":
        pytest.fail(f"{what} is required in CI (USAGE_WIDGETS_REQUIRE_ENGINES=1)")
    pytest.skip(f"{what} is not available")


def pg_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` live: ``pg_config --bindir``, PATH or Debian's folders."""
    candidates: list[str] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).resolve().parent))  # type: ignore[arg-type]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    candidates += ["/usr/local/bin", "/usr/local/pgsql/bin"]
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throw-away server; ``url`` logs in with a password over TCP."""

    folder: Path
    port: int
    bindir: Path
    user: str | None  # the OS user running it (None: this process's user)

    @property
    def url(self) -> str:
        return f"postgresql://usage:{PG_PASSWORD}@127.0.0.1:{self.port}/usage"

    def run_as(self, command: list[str]) -> subprocess.CompletedProcess:
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    def stop(self) -> None:
        self.run_as([str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop"])
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start PostgreSQL in a temporary folder (as ``nobody`` when run as root), stop it after."""
    bindir = pg_bindir()
    if bindir is None:
        missing("PostgreSQL (initdb, pg_ctl)")
    user = None
    folder = Path(tempfile.mkdtemp(prefix="uw-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root
        user = "nobody"
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(folder, free_port(), bindir, user)
    pwfile = folder / "pw"
    pwfile.write_text(PG_PASSWORD + "\n")
    if user:
        os.chown(pwfile, pwd.getpwnam(user).pw_uid, -1)
    init = server.run_as([
        str(bindir / "initdb"), "-D", str(folder / "data"), "-U", "usage", "--pwfile", str(pwfile),
        "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8",
        "--no-sync",
    ])  # fmt: skip
    if init.returncode:
        raise RuntimeError(f"initdb failed: {init.stderr[-2000:]}")
    options = f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c TimeZone=UTC"
    start = server.run_as([
        str(bindir / "pg_ctl"), "-D", str(folder / "data"), "-o", options, "-l", str(folder / "log"),
        "-w", "start",
    ])  # fmt: skip
    if start.returncode:
        raise RuntimeError(f"pg_ctl start failed: {start.stderr[-2000:]}")
    try:
        created = server.run_as([
            str(bindir / "createdb"), "-h", str(folder), "-p", str(server.port), "-U", "usage", "usage",
        ])  # fmt: skip
        if created.returncode:
            raise RuntimeError(f"createdb failed: {created.stderr[-2000:]}")
        yield server
    finally:
        server.stop()


def spark_session():
    """A lean local Spark session (one per test session), or a skip without Java / pyspark."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing("Java (for Spark)")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        missing("pyspark")
    t0 = time.monotonic()
    warehouse = tempfile.mkdtemp(prefix="uw-spark-")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("usage-widgets-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Tiny data: compiling generated code for each query costs more than it saves.
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.warehouse.dir", warehouse)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    session._uw_started = time.monotonic() - t0  # type: ignore[attr-defined]
    session._uw_warehouse = warehouse  # type: ignore[attr-defined]
    return session
