"""A PostgreSQL server of a test's own, which the test may stop and start at will.

The shared server (tests/databases.py) serves every other test; restarting it would break them.
This one is `initdb`'d into a directory of its own, listens on 127.0.0.1 and a free port, keeps
its unix socket in that directory, trusts local connections, and is stopped and removed at the
end. PostgreSQL refuses to run as root: as root its binaries run as the `postgres` OS user, in a
directory that user owns (created under the system temporary directory, since pytest's own
directories are private to root). Missing binaries are a visible skip locally and a failure
with `CI=true`, like the shared server.
"""

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from tests.databases import IN_CI
from tests.e2e.servers import free_port

DATABASE = "hazina"
_COMMAND_SECONDS = 60


def postgres_bin() -> Path | None:
    """The directory of the newest installed server binaries (Debian's layout, then PATH)."""
    candidates = sorted(
        (Path(found).parent for found in glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    on_path = shutil.which("pg_ctl")
    if on_path is not None and shutil.which("initdb") is not None:
        return Path(on_path).parent
    return None


def require_postgres_binaries() -> Path:
    binaries = postgres_bin()
    reason = None
    if binaries is None:
        reason = "PostgreSQL server binaries (initdb, pg_ctl) not found"
    elif os.geteuid() == 0 and _postgres_user() is None:
        reason = "running as root and no `postgres` OS user to run PostgreSQL as"
    if reason is not None:
        if IN_CI:
            pytest.fail(reason + " (CI requires them)", pytrace=False)
        pytest.skip(reason)
    assert binaries is not None
    return binaries


def _postgres_user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


class PrivatePostgres:
    def __init__(self, binaries: Path, directory: Path, port: int) -> None:
        self.binaries = binaries
        self.directory = directory
        self.data = directory / "data"
        self.log = directory / "postgres.log"
        self.port = port
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{DATABASE}"
        self._as_postgres = os.geteuid() == 0

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.binaries / program), *args]
        if self._as_postgres:
            return ["runuser", "-u", "postgres", "--", *command]
        return command

    async def _run(self, program: str, *args: str) -> None:
        # The server's own output goes to its log (`-l`); the command's to a file, never a pipe
        # the forked postmaster could hold open.
        output = self.directory / "commands.log"
        with output.open("ab") as sink:
            process = await asyncio.create_subprocess_exec(
                *self._command(program, *args),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
            )
            try:
                code = await asyncio.wait_for(process.wait(), _COMMAND_SECONDS)
            except TimeoutError:
                process.kill()
                await process.wait()
                code = None
        if code != 0:
            raise AssertionError(f"{program} {' '.join(args)} exited {code}:\n{self.report()}")

    def report(self, limit: int = 4000) -> str:
        parts = []
        for path in (self.directory / "commands.log", self.log):
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- {path.name} ---\n{text[-limit:]}")
        return "\n".join(parts)

    async def initdb(self) -> None:
        await self._run(
            "initdb",
            "--pgdata",
            str(self.data),
            "--auth",
            "trust",
            "--username",
            "postgres",
            "--encoding",
            "UTF8",
            "--no-sync",
        )

    async def start(self) -> None:
        options = " ".join(
            (
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.directory}",
                "-c max_connections=100",
                "-c fsync=off",  # a throwaway cluster: durability across OS crashes is moot
            )
        )
        await self._run(
            "pg_ctl", "--pgdata", str(self.data), "--log", str(self.log), "-o", options, "-w",
            "-t", str(_COMMAND_SECONDS), "start",
        )  # fmt: skip

    async def stop(self, mode: str = "fast") -> None:
        """`fast`: every client connection is terminated, open transactions roll back."""
        await self._run(
            "pg_ctl", "--pgdata", str(self.data), "-w", "-t", str(_COMMAND_SECONDS),
            "-m", mode, "stop",
        )  # fmt: skip

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    async def create_database(self) -> None:
        admin = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user="postgres", database="postgres"
        )
        try:
            await admin.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            await admin.close()


def _directory(preferred: Path) -> Path:
    """Where the cluster lives: `preferred` unless PostgreSQL must run as another OS user."""
    if os.geteuid() != 0:
        preferred.mkdir(parents=True, exist_ok=True)
        return preferred
    user = _postgres_user()
    assert user is not None
    # pytest's directories are private to root (0700 parents): one postgres can reach.
    directory = Path(tempfile.mkdtemp(prefix="hazina-private-pg-"))
    os.chown(directory, user.pw_uid, user.pw_gid)
    return directory


@asynccontextmanager
async def private_postgres(preferred: Path) -> AsyncIterator[PrivatePostgres]:
    """A running private server with an empty `hazina` database; stopped and removed after."""
    binaries = require_postgres_binaries()
    directory = _directory(preferred)
    server = PrivatePostgres(binaries, directory, free_port())
    try:
        await server.initdb()
        await server.start()
        await server.create_database()
        yield server
    finally:
        if server.running():
            with contextlib.suppress(AssertionError):
                await server.stop("immediate")
        if directory != preferred:
            _remove(directory, keeping_logs_in=preferred)


def _remove(directory: Path, *, keeping_logs_in: Path) -> None:
    """Remove the cluster, keeping the server's logs beside the test's other logs."""
    keeping_logs_in.mkdir(parents=True, exist_ok=True)
    for name in ("postgres.log", "commands.log"):
        with contextlib.suppress(OSError):
            shutil.copy(directory / name, keeping_logs_in / name)
    shutil.rmtree(directory, ignore_errors=True)
