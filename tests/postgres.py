"""A throw-away PostgreSQL server for the state tests: initdb into a temp dir, start, hand out databases, stop.

The binaries are the distribution's (Debian's postgresql package puts them in /usr/lib/postgresql/<major>/bin;
.ci/run installs it when they are missing). initdb refuses to run as root, so as root the cluster belongs to the
`postgres` user (or `nobody`) and every server command runs through runuser. The server listens on a free loopback
port and on a unix socket in its temp dir; the tests connect through the socket (the socket guard in
tests/conftest.py lets unix sockets through and nothing else), subprocesses (the CLI tests) through either.
"""

from __future__ import annotations

import glob
import os
import pwd
import random
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path


def binaries() -> Path | None:
    """Return the folder of initdb and pg_ctl: on PATH, else the newest /usr/lib/postgresql/*/bin; None if neither."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _unprivileged_user() -> str | None:
    """Return the user to run the server as when this process is root (None when it is not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists to run PostgreSQL as")


@dataclass
class Server:
    """A running throw-away cluster: its folder, port and socket folder; `database()` makes a fresh database."""

    bin: Path
    root: Path
    port: int = 0
    user: str | None = None
    made: list[str] = field(default_factory=list)

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def url(self, database: str, *, tcp: bool = False) -> str:
        """Return the SQLAlchemy URL of `database`, through the unix socket or (tcp) the loopback port."""
        if tcp:
            return f"postgresql+psycopg://cloudrun@127.0.0.1:{self.port}/{database}"
        return f"postgresql+psycopg://cloudrun@/{database}?host={self.socket_dir}&port={self.port}"

    def database(self) -> str:
        """Return the URL (unix socket) of a new, empty database of its own."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(host=str(self.socket_dir), port=self.port, user="cloudrun", dbname="postgres",
                             autocommit=True) as conn:  # fmt: skip
            try:  # FILE_COPY (PostgreSQL 15+) makes a small database in half the time of the default
                conn.execute(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
            except psycopg.errors.SyntaxError:
                conn.execute(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return self.url(name)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> None:
        self.user = _unprivileged_user()
        (self.root / "data").mkdir()
        self.socket_dir.mkdir()
        if self.user is not None:
            account = pwd.getpwnam(self.user)
            for path in (self.root, self.root / "data", self.socket_dir):
                os.chown(path, account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", str(self.root / "data"), "-U", "cloudrun", "-A", "trust", "--no-sync",
                  "-E", "UTF8", "--locale", "C")  # fmt: skip
        for _ in range(10):  # a free port: try random ones (the test process may not open a socket to ask)
            self.port = random.randint(20000, 60000)
            options = f"-F -h 127.0.0.1 -p {self.port} -k {self.socket_dir} -c max_connections=200"
            log = str(self.root / "server.log")
            started = self._run("pg_ctl", "-D", str(self.root / "data"), "-o", options, "-l", log, "-w", "-t", "60",
                                "start", check=False)  # fmt: skip
            if started.returncode == 0:
                return
        log = (self.root / "server.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"PostgreSQL did not start: {started.stderr}\n{log}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def start() -> Server:
    """Return a started server in a new temp dir (readable by the unprivileged user the server runs as)."""
    found = binaries()
    assert found is not None
    root = Path(tempfile.mkdtemp(prefix="cloudrun-pg-"))
    root.chmod(0o755)
    server = Server(found, root)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server
