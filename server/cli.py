"""The `oor` command: serve, manage volunteer accounts, back up and restore.

    oor serve [--config FILE] [--data DIR] [--http HOST:PORT] [--smtp HOST:PORT]
              [--smtp-relay HOST:PORT] [--mail-domain DOMAIN] [--demo] [--only web|smtp]
    oor volunteer invite NAME [--role volunteer|mentor|partner|coordinator] [--chat] [--mail]
                              [--public-url URL]
    oor volunteer list
    oor volunteer deactivate NAME
    oor root init --out FILE [--passphrase-file FILE]                 (a coordinator's machine)
    oor root sign REQUEST --out SIGNED --key FILE [--days N] [--roster FILE] [--deployment ID] [--yes]
    oor keys pending --out REQUEST
    oor keys import SIGNED
    oor log init | oor log key                                         (the log's checkpoint key, its vkey)
    oor release publish                                                (log this release's file manifest)
    oor witness init --key FILE --name NAME                            (anyone's witness)
    oor witness serve --key FILE --state FILE --log ORIGIN=VKEY [--log ...] [--listen HOST:PORT]
    oor backup DEST [--force] [--config FILE] [--data DIR]
    oor restore SRC [--config FILE] [--data DIR]
    oor audit --url URL [--data DIR] [--out FILE] [--manifest FILE] [--from-address ADDRESS]
              [--log-state FILE] [--roster FILE] [--root-public-key B64] [--log-key VKEY]
              [--witness VKEY ...] [--quorum N]

`serve` runs the web server and the mail gateway in one process; `--only web` runs the web part
alone (no SMTP listener), `--only smtp` the mail gateway alone (no HTTP listener), so that each can
run as its own process (or on its own machine, with PostgreSQL) over the same storage. A graceful
stop (SIGTERM, Ctrl-C) stops taking mail, then tries the waiting return mails for at most
`smtp_drain_seconds`.

`backup` writes a consistent copy of the storage while the service runs (SQLite: `VACUUM INTO`,
compacted, without sessions; PostgreSQL: `pg_dump -Fc`), mode 0600, under DEST.tmp renamed to
DEST at the end; an existing DEST is kept unless `--force`. `restore` fills an empty storage
(no database file in the data folder, or a PostgreSQL database without tables) from a backup,
migrates it forward, applies the retention rules at once, and says what it restored.

`volunteer invite` prints a link on the deployment's public address: `--public-url`, else the
configured `public_url`, else the address the last `oor serve` on this storage said it serves
(kept in `meta` under `served-url`), else `http://<http>` with a note on stderr. `volunteer
list` shows the accounts and the invitations not yet used (name, role, expiry; never a token).

`keys pending` writes what waits for the offline root key (a key statement for each enrolled
account, a revocation for each deactivated one); `root sign`, on a coordinator's machine, shows
each name, role and fingerprint and signs what the coordinator confirms; `keys import` verifies
the signed file and adds it to the transparency log. Until then an account takes no chat or mail.

`serve` refuses to start without `root_public_key` (except `--demo`), with fewer `log_witnesses` than
`witness_quorum`, or when the files it would serve are not the latest release manifest in the log:
run `release publish` after installing a release. `--demo` publishes by itself and runs a witness of
its own in the process (key and state in the data folder), so its pages check real cosignatures.
`log init` makes the log key and prints its vkey; a witness operator gives `witness serve
--log ORIGIN=VKEY` (ORIGIN: the vkey's name).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import resource
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from . import accounts
from .app import create_app, wall_clock
from .backup import BackupError, backup, restore
from .config import Config, load_config
from .errors import ConfigError, OorError
from .http import PrivateAccessLogger, install_log_scrubber
from .keys import ASSETS
from .storage import ROLES, Storage, open_storage
from .transparency import keys, release, witness

log = logging.getLogger("oor")
DEMO_ACCOUNTS = (("Demo", "volunteer"), ("Coördinator", "coordinator"))
# Where the hard limit is "unlimited" (macOS), ask for this many: far above what chat_sockets_max needs.
UNLIMITED_NOFILE_TARGET = 1 << 20
# Descriptors the process needs beside help-seekers' chat sockets (volunteers, pages, SQLite, SMTP).
NOFILE_HEADROOM = 1000
ACCEPT_ERROR = "socket.accept() out of system resource"
ACCEPT_REPORT_SECONDS = 60.0


def raise_open_file_limit(config: Config) -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit: every socket is a file descriptor, and the
    usual soft default (1024) is reached by a few hundred idle connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_NOFILE_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("open file limit stays at %d (could not raise it to %d: %s)", soft, target, exc)
        else:
            log.info("open file limit raised from %d to %d", soft, target)
            soft = target
    else:
        log.info("open file limit is %d", soft)
    if soft != resource.RLIM_INFINITY and config.chat_sockets_max + NOFILE_HEADROOM > soft:
        log.warning("chat_sockets_max (%d) is not well under the open file limit (%d): give the service a "
                    "higher limit (for example LimitNOFILE=65536) or lower chat_sockets_max",
                    config.chat_sockets_max, soft)


class AcceptErrorThrottle(logging.Filter):
    """At most one "socket.accept() out of system resource" line a minute, with a count.

    When the process runs out of file descriptors, asyncio logs (with a traceback) every failed
    accept(), up to a listening socket's backlog per event-loop turn, and retries each a second
    later: tens of thousands of lines a minute. One line a minute says the same."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        self.last: float | None = None
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(ACCEPT_ERROR):
            return True
        now = self.clock()
        if self.last is not None and now - self.last < ACCEPT_REPORT_SECONDS:
            self.suppressed += 1
            return False
        exc = record.exc_info[1] if record.exc_info else None
        reason = f" ({exc.strerror})" if isinstance(exc, OSError) and exc.strerror else ""
        more = f"; {self.suppressed} more since the last such line not logged" if self.suppressed else ""
        record.msg, record.args, record.exc_info, record.exc_text = (
            f"{ACCEPT_ERROR}{reason}: new connections wait until descriptors are free{more}. "
            "Raise the open file limit (README: Deploying on Debian, LimitNOFILE)", None, None, None)
        self.last, self.suppressed = now, 0
        return True


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    parser.add_argument("--data", dest="data_dir", help="data folder (default ./var)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oor", description="Luisterend Oor: anonymous helpline server",
                                     epilog=__doc__.split("\n", 1)[1] if __doc__ else None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server and the mail gateway")
    _common(serve)
    serve.add_argument("--http", help="HTTP listen address, HOST:PORT (default 127.0.0.1:8080)")
    serve.add_argument("--smtp", help="SMTP listen address, HOST:PORT (default 127.0.0.1:2525)")
    serve.add_argument("--smtp-relay", dest="smtp_relay", help="outbound mail relay, HOST:PORT")
    serve.add_argument("--mail-domain", dest="mail_domain", help="domain of hulp@DOMAIN (default localhost)")
    serve.add_argument("--demo", action="store_true",
                       help="print fresh enrolment links for a demo volunteer and a demo coordinator")
    serve.add_argument("--only", choices=("web", "smtp"),
                       help="run only the web part (no SMTP listener) or only the mail gateway (no HTTP "
                            "listener); without it, both run in this process")

    backup_cmd = sub.add_parser("backup", help="write a consistent copy of the storage while the service runs")
    _common(backup_cmd)
    backup_cmd.add_argument("dest", type=Path, help="the backup file to write (mode 0600)")
    backup_cmd.add_argument("--force", action="store_true", help="replace DEST if it exists")
    restore_cmd = sub.add_parser("restore", help="fill an empty storage (no database yet) from a backup")
    _common(restore_cmd)
    restore_cmd.add_argument("src", type=Path, help="a file written by `oor backup`")

    audit = sub.add_parser("audit", help="check a running instance against the threat model's claims")
    audit.add_argument("--url", required=True, help="the instance, e.g. https://hulp.example.nl")
    audit.add_argument("--data", type=Path, dest="audit_data", help="its data folder, to check for leaks and the schema")
    audit.add_argument("--out", type=Path, help="write the report here (.md or .html)")
    audit.add_argument("--manifest", type=Path, help="asset hashes of a reviewed release (JSON), to compare")
    audit.add_argument("--from-address", dest="from_address",
                       help="loopback address to connect from (default 127.77.0.1 for a loopback URL)")
    audit.add_argument("--log-state", type=Path, dest="log_state",
                       help="the checkpoint this auditor saw last (JSON; made, and replaced when the log checks pass)")
    audit.add_argument("--roster", type=Path, help="the coordinators' roster (`oor root sign --roster`) to compare")
    audit.add_argument("--root-public-key", dest="root_public_key",
                       help="the helpline's root public key (base64), instead of the server's trust.js")
    audit.add_argument("--log-key", dest="log_key",
                       help="the log's verifier key: the ORIGIN=VKEY line `oor log init` prints, or the VKEY")
    audit.add_argument("--witness", action="append", default=[], dest="audit_witnesses", metavar="VKEY",
                       help="a witness the pages must trust (repeat for each)")
    audit.add_argument("--quorum", type=int, dest="audit_quorum",
                       help="cosignatures the auditor requires (default: trust.js's quorum)")

    vol = sub.add_parser("volunteer", help="manage volunteer accounts")
    vsub = vol.add_subparsers(dest="action", required=True)
    invite = vsub.add_parser("invite", help="print a one-time enrolment link")
    _common(invite)
    invite.add_argument("name")
    invite.add_argument("--role", choices=ROLES, default="volunteer")
    invite.add_argument("--chat", action="store_true", help="may answer chats")
    invite.add_argument("--mail", action="store_true", help="may answer mail")
    invite.add_argument("--public-url", dest="public_url",
                        help="the address the link starts with, e.g. https://hulp.example.nl (default: the "
                             "configured public_url, else the address the running server serves)")
    lst = vsub.add_parser("list", help="list accounts and pending invitations")
    _common(lst)
    deact = vsub.add_parser("deactivate", help="deactivate a volunteer and end their sessions")
    _common(deact)
    deact.add_argument("name")
    keys.add_commands(sub, _common)  # `oor root ...` (coordinator's machine), `oor keys ...` (issue 17)
    release.add_commands(sub, _common)  # `oor log init|key`, `oor release publish` (issue 17)
    witness.add_commands(sub)  # `oor witness init|serve`: anyone's witness, no server configuration
    return parser


def _config(args: argparse.Namespace) -> Config:
    keys = ("data_dir", "http", "smtp", "smtp_relay", "mail_domain", "public_url")
    return load_config(args.config, overrides={k: getattr(args, k, None) for k in keys})


# The base URL the last `oor serve` on this storage announced (meta), for links made by the CLI.
SERVED_URL_KEY = "served-url"
_SERVED_URL_MAX = 300


async def _remember_served_url(config: Config) -> None:
    """Note where this server listens, for the links `oor volunteer invite` prints (only a convenience:
    a failure is logged, and the server runs on)."""
    async def work(storage: Storage) -> None:
        await storage.set_meta(SERVED_URL_KEY, config.base_url.encode())
    try:
        await _with_storage(config, work)
    except Exception:
        log.warning("could not note the served address for `oor volunteer invite`", exc_info=True)


async def _link_base(storage: Storage, config: Config) -> tuple[str, str | None]:
    """The base URL for an enrolment link, and a note for the operator when it is only a guess."""
    if config.public_url:
        return config.base_url, None
    served = await storage.get_or_create_meta(SERVED_URL_KEY, b"")
    text = served.decode("utf-8", "replace") if 0 < len(served) <= _SERVED_URL_MAX else ""
    if text.startswith(("http://", "https://")) and text.isprintable():
        return text.rstrip("/"), None
    return config.base_url, (f"note: public_url is not set and no server has run on this storage yet: the link "
                             f"starts with {config.base_url}. Pass --public-url (or set public_url) if that is "
                             "not where volunteers reach the server.")


async def _with_storage(config: Config, work: Any) -> Any:
    storage = open_storage(config)
    await storage.open()
    try:
        return await work(storage)
    finally:
        await storage.close()


def _invite_line(config: Config, name: str, role: str, can_chat: bool, can_mail: bool) -> Any:
    async def work(storage: Storage) -> tuple[accounts.Invited, str | None]:
        base, note = await _link_base(storage, config)
        invited = await accounts.invite(storage, config, name, role, can_chat, can_mail, wall_clock(), base_url=base)
        return invited, note
    return work


def _when(unix: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(unix))


def _list_lines(storage_rows: tuple[list[Any], list[Any]]) -> list[str]:
    """The accounts, then the pending invitations: names (letters, digits and a few marks of punctuation:
    accounts.normalise_name) in padded columns; never a token or its hash."""
    volunteers, pending = storage_rows
    width = max([len("name"), *(len(v.name) for v in volunteers), *(len(i.name) for i in pending)])
    lines = [f"{'name':<{width}} {'role':<12} {'chat':<5} {'mail':<5} {'active':<7} enrolled"]
    for v in volunteers:
        lines.append(f"{v.name:<{width}} {v.role:<12} {'yes' if v.can_chat else 'no':<5} "
                     f"{'yes' if v.can_mail else 'no':<5} {'yes' if v.active else 'no':<7} {v.enrolled_day}")
    if not volunteers:
        lines.append("(no accounts yet)")
    lines.append("")
    lines.append(f"pending invitations (not used yet): {len(pending)}")
    if pending:
        lines.append(f"{'name':<{width}} {'role':<12} {'chat':<5} {'mail':<5} expires")
        for i in pending:
            lines.append(f"{i.name:<{width}} {i.role:<12} {'yes' if i.can_chat else 'no':<5} "
                         f"{'yes' if i.can_mail else 'no':<5} {_when(i.expires_at)}")
    return lines


SHUTDOWN_SECONDS = 2.0


def no_core_dumps() -> None:
    """A core dump of the server would hold what lives only in its memory: an e-mail's text and
    sender while the gateway encrypts it, session tokens, return codes waiting to be mailed."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


async def _serve(config: Config, demo: bool, only: str | None = None) -> None:
    no_core_dumps()
    raise_open_file_limit(config)
    demo_root_key = None
    demo_witness = None
    if demo:
        config, demo_root_key, demo_line = keys.demo_root(config)  # issue 17: demo accounts become ready
        print(demo_line)
        config, demo_witness = await release.demo_witness(config)  # a real witness in this process, quorum 1
        for name, role in DEMO_ACCOUNTS:
            async def work(storage: Storage, name: str = name, role: str = role) -> str | None:
                if await storage.volunteer_by_name(name) is not None:
                    return None
                inv = await accounts.invite(storage, config, name, role, True, True, wall_clock())
                return inv.url
            url = await _with_storage(config, work)
            if url:
                print(f"Enrolment link for demo {role} {name!r} (valid {config.invitation_ttl_hours} h):\n  {url}")
            else:
                print(f"Demo {role} {name!r} is enrolled already: log in at {config.base_url}/vrijwilliger")
    web_part = only in (None, "web")
    smtp_part = config.smtp_enabled and only in (None, "smtp")
    # The gateway needs what the application builds at start-up (storage, mail desk, address guard,
    # counts), so it is always the application's cleanup_ctx; with --only smtp the application
    # starts and stops as usual, but no HTTP site is opened.
    app = create_app(config, chat=web_part)
    # Issue 17: refuse to start without a root key, or with files that are not the logged release.
    line = await release.release_gate(config, app[ASSETS], demo=demo, with_storage=_with_storage)
    if line:
        print(line)
    if demo_root_key is not None:
        app.cleanup_ctx.append(_demo_signer_ctx(config, demo_root_key))
    if smtp_part:
        from mailgate import gateway_context  # the gateway shares this process, event loop and storage
        app.cleanup_ctx.append(gateway_context)
    # A stop must be quick whatever the load (a deploy waits for it): the chats are ended or, in a
    # cluster, drained (chat/cluster.py) before this; what is left of a request gets two seconds.
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_SECONDS, access_log_class=PrivateAccessLogger,
                           access_log=logging.getLogger("oor.access") if config.access_log else None)
    await runner.setup()
    if web_part:
        site = web.TCPSite(runner, config.http.host, config.http.port)
        await site.start()
        await _remember_served_url(config)  # so that `oor volunteer invite` links point here
    # Everything made at start-up lives as long as the process: keep it out of every future
    # garbage collection, so that full collections stay short (they would show as chat latency).
    gc.freeze()
    print(_running_banner(config, web_part, smtp_part, only), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    if demo_witness is not None:
        await demo_witness.cleanup()


def _demo_signer_ctx(config: Config, root: Any) -> Any:
    async def ctx(app: web.Application) -> Any:
        from .keys import STORAGE
        task = asyncio.ensure_future(keys.demo_signer(app[STORAGE], config, root, [n for n, _ in DEMO_ACCOUNTS]))
        yield
        task.cancel()
    return ctx


def _running_banner(config: Config, web_part: bool, smtp_part: bool, only: str | None) -> str:
    smtp = f"mail gateway (SMTP) for hulp@{config.mail_domain} on {config.smtp if smtp_part else 'off'}"
    if not web_part:
        return (f"Luisterend Oor mail gateway is running (no web part in this process).\n  {smtp}\n"
                "Press Ctrl-C to stop.")
    if only == "web" and config.smtp_enabled:
        smtp = "mail gateway in another process (oor serve --only smtp)"
    return (f"Luisterend Oor is running.\n  Help-seekers: {config.base_url}/\n"
            f"  Volunteers:   {config.base_url}/vrijwilliger\n"
            f"  HTTP on {config.http}; {smtp}\n"
            "Press Ctrl-C to stop.")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "witness":  # a witness operator's machine: no server configuration, no storage
        return witness.command(args)
    if args.command == "root":  # the coordinator's machine: no server configuration, no storage
        return keys.root_command(args)
    if args.command == "audit":
        from .audit import Anchors, run_audit
        anchors = Anchors(args.root_public_key, args.log_key, tuple(args.audit_witnesses), args.audit_quorum)
        return run_audit(args.url, args.audit_data, args.out, args.manifest, args.from_address,
                         log_state=args.log_state, roster=args.roster, anchors=anchors)
    try:
        config = _config(args)
    except ConfigError as exc:
        print(f"oor: configuration error: {exc}", file=sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)
    # Minutes are enough to run a service; finer times would only help to link events.
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M"))
    install_log_scrubber(handler)
    logging.basicConfig(level=config.log_level.upper(), handlers=[handler])
    logging.getLogger("asyncio").addFilter(AcceptErrorThrottle())
    if args.command == "serve" and args.only == "smtp" and not config.smtp_enabled:
        print("oor: --only smtp: the mail gateway is off in this configuration (smtp_enabled = false)",
              file=sys.stderr)
        return 2
    try:
        if args.command == "serve":
            asyncio.run(_serve(config, args.demo, args.only))
        elif args.command == "backup":
            print(backup(config, args.dest, force=args.force))
        elif args.command == "restore":
            print(restore(config, args.src))
        elif args.command == "log":
            return release.log_command(config, args)
        elif args.command == "release":
            return release.release_command(config, args, _with_storage)
        elif args.command == "keys":
            return keys.keys_command(config, args, _with_storage)
        elif args.action == "invite":
            can_chat, can_mail = args.chat, args.mail
            if args.role == "volunteer" and not (can_chat or can_mail):
                can_chat = can_mail = True  # a volunteer answers both unless told otherwise
            inv, note = asyncio.run(_with_storage(config, _invite_line(config, args.name, args.role, can_chat,
                                                                       can_mail)))
            if note:
                print(f"oor: {note}", file=sys.stderr)
            print(inv.url)
            print(f"valid until {_when(inv.expires_at)}; it works once.", file=sys.stderr)
        elif args.action == "list":
            async def listing(storage: Storage) -> tuple[list[Any], list[Any]]:
                return await storage.list_volunteers(), await storage.pending_invitations(wall_clock())
            print("\n".join(_list_lines(asyncio.run(_with_storage(config, listing)))))
        elif args.action == "deactivate":
            name = accounts.normalise_name(args.name)
            if not asyncio.run(_with_storage(config, lambda s: s.set_active(name, False))):
                print(f"oor: no volunteer named {name!r}", file=sys.stderr)
                return 1
            print(f"{name} is deactivated; their sessions have ended.")
            print("Their key is revoked in the public log once a coordinator signs the next request "
                  "(oor keys pending, oor root sign, oor keys import).")
    except OorError as exc:
        print(f"oor: {exc.en}", file=sys.stderr)
        return 1
    except BackupError as exc:
        print(f"oor: {exc}", file=sys.stderr)
        return 1
    except release.StartRefused as exc:
        print(f"oor: refusing to start: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:  # found only once the database is open (guard_mail_derivation)
        print(f"oor: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
