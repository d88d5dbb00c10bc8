"""`oor backup DEST` and `oor restore SRC`: a consistent copy of the storage, and back.

What a backup holds is what the data inventory (`threat_model/data_inventory.toml`) lists for
the database, less the volunteers' login sessions (minutes of life by design: a backup would
keep them as long as the backup is kept; volunteers log in again after a restore):

- SQLite: `VACUUM INTO` from a second connection, which reads one snapshot while the server
  goes on writing (WAL) and writes a new, compacted file: no free pages, so nothing deleted
  survives in it, and no write-ahead log beside it. The session rows are then deleted
  (`secure_delete`) and the file compacted once more. Never a plain file copy, which could
  catch the database half-written, and would carry the WAL's and the free pages' old content.
- PostgreSQL: `pg_dump --format=custom` in a snapshot exported from a transaction of ours (so the
  counts printed are the backup's), without the sessions' rows. The password goes to pg_dump and
  pg_restore in their environment (PGPASSWORD), never on a command line that `ps` shows.

A backup is written with mode 0600 to DEST.tmp and renamed to DEST once it is whole, so a
crash leaves either the old DEST or the new one, never half of one. An existing DEST is kept
unless `--force` (a mistyped name must not overwrite the last good backup).

A restore fills an empty storage only (no database file in the data folder; a PostgreSQL
database without tables) and changes nothing when it refuses or fails: SQLite is restored into
a file beside the target and moved into place once everything passed; PostgreSQL is checked
from the dump (read through a pipe) before `pg_restore --single-transaction`. It checks the backup's
schema version (one this code knows: older ones are migrated forward, newer ones refused),
refuses a backup whose return codes this configuration could not open (`deployment_id` and the
Argon2id settings, as at start-up), and applies the retention rules at once: what expired
while the backup lay on a shelf is deleted before the service ever sees it (the server does
it again at every start).

Both print one line of counts (volunteers, mail threads, messages): never a name or a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .config import Config
from .errors import ConfigError
from .mail.desk import guard_mail_derivation
from .storage import Storage, open_storage
from .storage.sqlite import SQLiteStorage, migrations

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
# The tables without which a file is not a database of this service.
CORE_TABLES = frozenset({"meta", "volunteers", "mail_threads", "mail_messages"})
# Login sessions live minutes (session_idle_minutes): they are not kept in a backup.
NOT_BACKED_UP = ("sessions",)
PG_BIN_DIRS = Path("/usr/lib/postgresql")
# libpq's URL query parameters we pass on, each as its environment variable.
PG_PARAMETERS = {
    "host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD", "dbname": "PGDATABASE",
    "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL", "connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME",
    "target_session_attrs": "PGTARGETSESSIONATTRS", "gssencmode": "PGGSSENCMODE",
}


class BackupError(Exception):
    """A backup or restore refused or failed; the message says why, for the operator."""


@dataclass(frozen=True)
class Summary:
    """What a backup holds or a restore put back: counts only."""

    volunteers: int
    threads: int
    messages: int
    schema: int
    expired: int = 0

    def counts(self) -> str:
        return (f"{self.volunteers} volunteer account(s), {self.threads} mail thread(s) with "
                f"{self.messages} message(s), schema version {self.schema}")


def _postgres(config: Config) -> bool:
    return bool(config.database_url)  # config.py accepts only "" and postgresql:// or postgres:// URLs


def known_schema(postgres: bool = False) -> int:
    """The highest schema version this code can migrate to (both backends number their migrations alike)."""
    if postgres:
        from .storage import postgres as pg
        return max(number for number, _ in pg.migrations())
    return max(number for number, _ in migrations())


# -- files -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _private_files() -> Iterator[None]:
    """Whatever is created meanwhile (our files, SQLite's journals, pg_dump's output) is for us alone."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def _fresh_file(path: Path) -> None:
    """Create `path` empty with mode 0600; refuse if it exists (another run, or one that failed)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise BackupError(f"{path} exists: another backup or restore is running, or an earlier one "
                          "failed; remove it and try again") from None
    except OSError as exc:
        raise BackupError(f"cannot write {path}: {exc.strerror}") from None


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _sqlite_side_files(path: Path) -> tuple[Path, ...]:
    return tuple(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _put_in_place(tmp: Path, dest: Path, *, force: bool) -> None:
    """Move the finished `tmp` to `dest` atomically; without `force`, never over an existing file
    (a hard link fails if `dest` appeared meanwhile, where a check and a rename would race)."""
    _fsync(tmp)
    if force:
        os.replace(tmp, dest)
    else:
        try:
            os.link(tmp, dest)
        except FileExistsError:
            raise BackupError(f"{dest} exists; give --force to replace it") from None
        tmp.unlink()
    _fsync(dest.parent)


def _magic(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise BackupError(f"{path} does not exist") from None
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from None


# -- SQLite ----------------------------------------------------------------------------------------


def _sqlite_uri(path: Path, mode: str) -> str:
    return f"file:{quote(str(path.resolve()))}?mode={mode}"


def _sqlite_summary(c: sqlite3.Connection) -> Summary:
    def count(table: str) -> int:
        return int(c.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    return Summary(count("volunteers"), count("mail_threads"), count("mail_messages"),
                   int(c.execute("PRAGMA user_version").fetchone()[0]))


def _sqlite_check(c: sqlite3.Connection, what: str, *, whole: bool = True) -> int:
    """The schema version of a database of this service; BackupError for anything else. With
    `whole`, every page is read and checked too (a backup; not the live database, which SQLite
    keeps whole, and which would be read twice for nothing)."""
    try:
        tables = {row[0] for row in c.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        version = int(c.execute("PRAGMA user_version").fetchone()[0])
        healthy = not whole or c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{what} is not a readable SQLite database ({exc})") from None
    if not CORE_TABLES <= tables or version < 1:
        raise BackupError(f"{what} is not a database of Luisterend Oor")
    if not healthy:
        raise BackupError(f"{what} is damaged (SQLite integrity_check failed)")
    if version > known_schema():
        raise BackupError(f"{what} has schema version {version}, newer than this version of Luisterend Oor "
                          f"knows ({known_schema()}): restore it with the version that wrote it, or a newer one")
    return version


def _sqlite_backup(config: Config, dest: Path, force: bool) -> Summary:
    database = config.database_path
    if not database.exists():
        raise BackupError(f"there is no database at {database}")
    tmp = dest.with_name(dest.name + ".tmp")
    _fresh_file(tmp)
    try:
        try:
            # mode=rw: the running server's database, never created here. A read transaction of its
            # own: the server goes on writing (WAL) while this reads one consistent snapshot.
            live = sqlite3.connect(_sqlite_uri(database, "rw"), uri=True, isolation_level=None)
            try:
                live.execute("PRAGMA busy_timeout=10000")
                _sqlite_check(live, str(database), whole=False)
                live.execute("VACUUM INTO ?", (str(tmp),))
            finally:
                live.close()
            out = sqlite3.connect(tmp, isolation_level=None)
            try:
                # One file, no write-ahead log; deleted rows zeroed, then no free page left at all.
                out.execute("PRAGMA journal_mode=DELETE")
                out.execute("PRAGMA secure_delete=ON")
                out.execute("PRAGMA temp_store=MEMORY")  # VACUUM's scratch copy stays out of /tmp
                for table in NOT_BACKED_UP:
                    out.execute(f"DELETE FROM {table}")
                out.execute("VACUUM")
                if out.execute("PRAGMA freelist_count").fetchone()[0] != 0:
                    raise BackupError("the backup was not compacted (free pages remain)")
                _sqlite_check(out, "the backup")
                summary = _sqlite_summary(out)
            finally:
                out.close()
        except sqlite3.Error as exc:
            raise BackupError(f"the backup failed: {exc}") from None
        _remove(*_sqlite_side_files(tmp))
        _put_in_place(tmp, dest, force=force)
    except BaseException:
        _remove(tmp, *_sqlite_side_files(tmp))
        raise
    return summary


def _sqlite_restore(config: Config, src: Path, now: int) -> Summary:
    if _magic(src) != SQLITE_MAGIC:
        raise BackupError(f"{src} is not an SQLite backup (this configuration uses SQLite)")
    target = config.database_path
    present = [p for p in (target, *_sqlite_side_files(target)) if p.exists()]
    if present:
        raise BackupError(f"{target} exists: restore only into an empty data folder (nothing was changed)")
    stage = target.with_name(target.name + ".restoring")
    try:
        source = sqlite3.connect(_sqlite_uri(src, "ro"), uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {src}: {exc}") from None
    try:
        _sqlite_check(source, str(src))
        config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        _fresh_file(stage)
        try:
            # A compacted copy again: a file made some other way may carry free pages.
            source.execute("VACUUM INTO ?", (str(stage),))
        except sqlite3.Error as exc:
            _remove(stage)
            raise BackupError(f"the restore failed: {exc}") from None
    finally:
        source.close()
    try:
        # Migrated forward by opening it; then the checks and the retention rules of a start.
        expired = asyncio.run(_settle(SQLiteStorage(stage), config, now))
        with contextlib.closing(sqlite3.connect(stage)) as c:
            summary = _sqlite_summary(c)
        _remove(*_sqlite_side_files(stage))
        _put_in_place(stage, target, force=False)
    except BaseException:
        _remove(stage, *_sqlite_side_files(stage))
        raise
    return Summary(summary.volunteers, summary.threads, summary.messages, summary.schema, expired)


async def _settle(storage: Storage, config: Config, now: int) -> int:
    """Open (and so migrate) the restored storage, refuse it if its return codes would not open
    under this configuration, and apply the retention rules; answer how many threads expired."""
    await storage.open()
    try:
        try:
            await guard_mail_derivation(storage, config)
        except ConfigError as exc:
            raise BackupError(f"this backup does not fit the configuration: {exc}") from None
        await storage.purge(now, now - config.session_idle_minutes * 60, now - config.session_max_hours * 3600)
        return await storage.expire_threads(now // 86400 - config.mail_retention_days)
    finally:
        await storage.close()


# -- PostgreSQL ------------------------------------------------------------------------------------


def pg_environment(url: str) -> dict[str, str]:
    """The environment for pg_dump and pg_restore: every piece of `url` in its libpq variable, the
    password included, so that none of it is on a command line (`ps` shows those to every user).
    What the URL leaves out comes from the inherited environment, as for the server (PGPASSWORD,
    ~/.pgpass, PGSSLMODE...)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise BackupError("database_url: expected postgresql://user:password@host:port/database")
    if "," in parts.netloc:
        raise BackupError("database_url: several hosts are not supported by oor backup")
    try:
        port = parts.port
    except ValueError:
        raise BackupError("database_url: the port is not a number") from None
    pieces = {"host": unquote(parts.hostname) if parts.hostname else None, "port": str(port) if port else None,
              "user": unquote(parts.username) if parts.username else None,
              "password": unquote(parts.password) if parts.password else None,
              "dbname": unquote(parts.path.lstrip("/")) or None}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in PG_PARAMETERS:
            raise BackupError(f"database_url: parameter {key!r} is not supported by oor backup")
        pieces[key] = value
    env = dict(os.environ)
    for key, value in pieces.items():
        if value:
            env[PG_PARAMETERS[key]] = value
    if not env.get("PGDATABASE"):
        raise BackupError("database_url: name the database (postgresql://…/DATABASE)")
    return env


def pg_tool(name: str) -> str:
    """pg_dump or pg_restore: from PATH, else the newest of Debian's /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted((p for p in PG_BIN_DIRS.glob(f"*/bin/{name}") if p.is_file()),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if candidates:
        return str(candidates[-1])
    raise BackupError(f"{name} not found (install the PostgreSQL client tools, e.g. postgresql-client)")


def _tool_words(stderr: bytes) -> str:
    """What pg_dump or pg_restore said, for the operator: their error lines, without the ones that
    can quote row content (a DETAIL names the key values of a row; "Command was" quotes SQL)."""
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines()
             if not line.lstrip().startswith(("DETAIL:", "Command was:", "CONTEXT:"))]
    return "\n".join(lines).strip()[-2000:]


def _run(command: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    if done.returncode != 0:
        raise BackupError(f"{what} failed ({os.path.basename(command[0])} exit {done.returncode}): "
                          f"{_tool_words(done.stderr)}")
    return done


async def _pg_fetch(config: Config, queries: list[str]) -> list[int]:
    import asyncpg  # only here: a SQLite deployment never loads it
    conn = await asyncpg.connect(config.database_url)
    try:
        return [int(await conn.fetchval(q)) for q in queries]
    finally:
        await conn.close()


PG_USER_RELATIONS = ("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                     " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
                     " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"
                     " AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')")
PG_COUNTS = ["SELECT count(*) FROM volunteers", "SELECT count(*) FROM mail_threads",
             "SELECT count(*) FROM mail_messages"]


def _pg_backup(config: Config, dest: Path, force: bool) -> Summary:
    env = pg_environment(config.database_url)
    tmp = dest.with_name(dest.name + ".tmp")
    _fresh_file(tmp)
    try:
        command = [pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={tmp}"]
        command += [f"--exclude-table-data={table}" for table in NOT_BACKED_UP]
        volunteers, threads, messages = asyncio.run(_pg_dump_in_snapshot(config, command, env))
        summary = Summary(volunteers, threads, messages, _pg_dump_version(tmp, _pg_dump_meta(tmp, env)))
        _put_in_place(tmp, dest, force=force)
    except BaseException:
        _remove(tmp)
        raise
    return summary


async def _pg_dump_in_snapshot(config: Config, command: list[str], env: dict[str, str]) -> list[int]:
    """Run pg_dump in a snapshot exported from a transaction of ours, and count in that snapshot:
    the counts printed are those of the backup, while the service goes on writing."""
    import asyncpg  # only here: a SQLite deployment never loads it
    conn = await asyncpg.connect(config.database_url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            counts = [int(await conn.fetchval(q)) for q in PG_COUNTS]
            proc = await asyncio.create_subprocess_exec(*command, f"--snapshot={snapshot}", env=env,
                                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                        stderr=subprocess.PIPE)
            _, stderr = await proc.communicate()
            if proc.returncode != 0:
                raise BackupError(f"pg_dump failed (exit {proc.returncode}): {_tool_words(stderr)}")
        return counts
    finally:
        await conn.close()


def _copy_field(text: str) -> str | None:
    """One field of COPY's text format, unescaped (None for \\N)."""
    if text == "\\N":
        return None
    out, i = [], 0
    escapes = {"t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "\\": "\\"}
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(escapes.get(text[i + 1], text[i + 1]))
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _dump_rows(dump: Path, table: str, env: dict[str, str]) -> Iterator[list[str | None]]:
    """The rows of `table` in a custom-format dump, read by pg_restore into a pipe (not into a
    database, and never onto disk): the backup is checked before anything is restored."""
    command = [pg_tool("pg_restore"), "--data-only", f"--table={table}", "--file=-", str(dump)]
    with subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        inside = False
        for raw in proc.stdout or ():
            line = raw.decode("utf-8").rstrip("\n")
            if not inside:
                inside = line.startswith("COPY ") and line.endswith(" FROM stdin;")
                continue
            if line == "\\.":
                inside = False
                continue
            yield [_copy_field(field) for field in line.split("\t")]
        error = _tool_words(proc.stderr.read()) if proc.stderr else ""
    if proc.returncode != 0:
        raise BackupError(f"{dump} could not be read (pg_restore exit {proc.returncode}): {error}")


def _pg_dump_meta(dump: Path, env: dict[str, str]) -> dict[str, bytes]:
    meta: dict[str, bytes] = {}
    for row in _dump_rows(dump, "meta", env):
        if len(row) == 2 and row[0] is not None and row[1] is not None and row[1].startswith("\\x"):
            meta[row[0]] = bytes.fromhex(row[1][2:])
    return meta


def _pg_dump_version(dump: Path, meta: dict[str, bytes]) -> int:
    from .storage.postgres import SCHEMA_VERSION_KEY
    value = meta.get(SCHEMA_VERSION_KEY, b"")
    if not value.isdigit():
        raise BackupError(f"{dump} is not a backup of Luisterend Oor (no schema version in it)")
    return int(value)


def _pg_check_dump(config: Config, dump: Path, env: dict[str, str]) -> int:
    """The schema version of a dump of this service; refused if newer than this code knows, or if its
    return codes would not open under this configuration (as `guard_mail_derivation` does at start)."""
    from .mail.desk import MAIL_DERIVATION_KEY, mail_derivation
    meta = _pg_dump_meta(dump, env)
    version = _pg_dump_version(dump, meta)
    if version > known_schema(postgres=True):
        raise BackupError(f"{dump} has schema version {version}, newer than this version of Luisterend Oor "
                          f"knows ({known_schema(postgres=True)}): restore it with the version that wrote it, "
                          "or a newer one")
    stored = meta.get(MAIL_DERIVATION_KEY)
    if stored is not None and stored != mail_derivation(config):
        threads = sum(1 for _ in _dump_rows(dump, "mail_threads", env))
        if threads:
            deployment_id, ops, mem = stored.decode().split("|")
            raise BackupError(
                f"this backup does not fit the configuration: its {threads} mail threads' return codes were "
                f"turned into keys with deployment_id = {deployment_id!r}, kdf_opslimit = {ops}, "
                f"kdf_memlimit_kib = {mem}; set those values (nothing was changed)")
    return version


def _pg_restore(config: Config, src: Path, now: int) -> Summary:
    if _magic(src)[:len(PG_DUMP_MAGIC)] != PG_DUMP_MAGIC:
        raise BackupError(f"{src} is not a PostgreSQL backup (pg_dump custom format); this configuration "
                          "uses PostgreSQL")
    env = pg_environment(config.database_url)
    [relations] = asyncio.run(_pg_fetch(config, [PG_USER_RELATIONS]))
    if relations:
        raise BackupError(f"database {env['PGDATABASE']!r} is not empty ({relations} tables or sequences): "
                          "restore only into an empty database (nothing was changed)")
    _pg_check_dump(config, src, env)
    # One transaction: a failure restores nothing.
    _run([pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          f"--dbname={env['PGDATABASE']}", str(src)], env, "pg_restore")
    # Migrated forward by opening it; the retention rules applied at once. (The checks of
    # _pg_check_dump were made before, so that a refusal changes nothing.)
    expired = asyncio.run(_settle(open_storage(config), config, now))
    volunteers, threads, messages = asyncio.run(_pg_fetch(config, PG_COUNTS))
    [version] = asyncio.run(_pg_schema(config))
    return Summary(volunteers, threads, messages, version, expired)


async def _pg_schema(config: Config) -> list[int]:
    import asyncpg
    from .storage.postgres import schema_version
    conn = await asyncpg.connect(config.database_url)
    try:
        return [await schema_version(conn)]
    finally:
        await conn.close()


# -- the commands ----------------------------------------------------------------------------------


def backup(config: Config, dest: Path, *, force: bool = False) -> str:
    """`oor backup DEST`: the line to print."""
    dest = Path(dest)
    if dest.is_dir():
        raise BackupError(f"{dest} is a folder: name the backup file")
    if dest.exists() and not force:
        raise BackupError(f"{dest} exists; give --force to replace it")
    if not dest.parent.is_dir():
        raise BackupError(f"folder {dest.parent} does not exist")
    with _private_files():
        summary = _pg_backup(config, dest, force) if _postgres(config) else _sqlite_backup(config, dest, force)
    return f"backup written to {dest} (mode 0600): {summary.counts()}"


def restore(config: Config, src: Path, *, now: int | None = None) -> str:
    """`oor restore SRC`: the line to print."""
    now = int(time.time()) if now is None else now
    with _private_files():
        summary = _pg_restore(config, src, now) if _postgres(config) else _sqlite_restore(config, src, now)
    where = "the PostgreSQL database" if _postgres(config) else str(config.database_path)
    expired = (f"; {summary.expired} mail thread(s) past mail_retention_days were deleted at once"
               if summary.expired else "")
    return f"restored into {where}: {summary.counts()}{expired}"
