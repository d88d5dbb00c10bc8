"""Configuration: a frozen dataclass loaded from TOML, then the environment, then flags.

Precedence, lowest first: the defaults below, a TOML file (`--config FILE` or
`OOR_CONFIG`), environment variables `OOR_<KEY>` (upper case), command-line
flags. An unknown key or a bad value stops start-up with a message that names
it: a typo in a privacy setting must never be silently ignored.

Defaults are the privacy-preserving, production-strength ones. Tests lower the
key-derivation cost only through `insecure_kdf = true`, which the server shouts
about at start-up and shows as a banner on every page.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import crypto

from .errors import ConfigError

# Our Argon2id policy floor is the protocol's production parameters, 64 MiB and 3 passes
# (DESIGN.md 4, PROTOCOL.md 2: `PRODUCTION_KDF`); taken from crypto, not written again here.
PRODUCTION_MIN_MEMLIMIT_KIB = crypto.PRODUCTION_KDF.memlimit // 1024
PRODUCTION_MIN_OPSLIMIT = crypto.PRODUCTION_KDF.opslimit
# libsodium's hard floor (`MIN_MEMLIMIT`, 8192 bytes), used only with insecure_kdf (tests).
SODIUM_MIN_MEMLIMIT_KIB = -(-crypto.MIN_MEMLIMIT // 1024)
# The highest proof-of-work difficulty the server may ever ask (PROTOCOL.md 11: expected 2**bits hashes).
# bench/browser.py measured the page's solver at 2.5 to 2.9 million hashes a second in Chromium and 0.54
# to 0.65 million with 4x CPU throttling (issue 16 saw as little as 0.12 million there): 19 bits is an
# expected 0.9 s at 4x, and 4.4 s at the slowest rate seen, under the 5 s a help-seeker on an old phone
# should wait at most. 22 bits was 7 s to 35 s there. What holds a flood back beyond this is not the puzzle
# (native code solves 19 bits in a fraction of a second) but the queue cap, the challenges per address
# per minute and the socket caps (PROTOCOL.md 11, "What holds a flood back").
POW_MAX_BITS_CEILING = 19
_HOSTPORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-]+):(?P<port>[0-9]{1,5})$")


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    @classmethod
    def parse(cls, key: str, text: str) -> "HostPort":
        m = _HOSTPORT.match(text.strip()) if isinstance(text, str) else None
        if not m or not (0 <= int(m["port"]) <= 65535):
            raise ConfigError(f"{key}: expected HOST:PORT such as 127.0.0.1:8080, got {text!r}")
        return cls(m["host"].strip("[]"), int(m["port"]))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class Config:
    """Every setting of one deployment. See the README's configuration reference."""

    http: HostPort = HostPort("127.0.0.1", 8080)
    smtp: HostPort = HostPort("127.0.0.1", 2525)
    smtp_relay: HostPort | None = None
    mail_domain: str = "localhost"
    data_dir: Path = Path("var")
    # Empty: the SQLite file data_dir/oor.sqlite3. Otherwise a postgresql:// URL, which may hold a
    # password: it is left out of the repr, and never shown in an error or a log line.
    database_url: str = dataclasses.field(default="", repr=False)
    # Empty: the live chat state (queue, pairings, backlogs, challenges, abuse tags) in this process's
    # memory. Otherwise the redis://, rediss:// or unix:// URL of a Redis that keeps nothing on disk,
    # shared by several web nodes; it may hold a password, so, like database_url, it is left out of the
    # repr and never shown in an error or a log line.
    hub_url: str = dataclasses.field(default="", repr=False)
    public_url: str = ""
    deployment_id: str = "luisterend-oor-dev"
    kdf_opslimit: int = PRODUCTION_MIN_OPSLIMIT
    kdf_memlimit_kib: int = PRODUCTION_MIN_MEMLIMIT_KIB
    insecure_kdf: bool = False
    passphrase_min_length: int = 12
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    invitation_ttl_hours: int = 72
    login_free_attempts: int = 5
    login_max_delay_seconds: int = 900
    login_per_minute: int = 10
    crisis_line_name: str = "113 Zelfmoordpreventie"
    crisis_line_phone: str = "0800-0113"
    emergency_phone: str = "112"
    quick_exit_url: str = "https://nos.nl/"
    max_request_kib: int = 64
    chat_max_per_volunteer: int = 2
    chat_grace_seconds: int = 60
    # How long a chat waits for a help-seeker's page that went away (a phone in a pocket, another app):
    # longer than a volunteer's (`chat_grace_seconds`), whose console is on a desk.
    chat_seeker_grace_seconds: int = 600
    chat_queue_max: int = 200
    chat_max_message_chars: int = 2000
    chat_block_minutes: int = 30
    chat_topics: tuple[str, ...] = (
        "eenzaamheid|loneliness", "psychische klachten|mental health", "relaties|relationships",
        "gezin en opvoeding|family and parenting", "verlies en rouw|loss and grief",
        "zelfmoordgedachten|suicidal thoughts", "geweld en misbruik|violence and abuse",
        "werk en geld|work and money", "lichamelijke gezondheid|physical health", "anders|other")
    chat_challenges_per_minute: int = 30
    chat_idle_sockets_per_address: int = 8
    chat_sockets_max: int = 10_000
    chat_open_timeout_seconds: int = 30
    chat_partners: tuple[str, ...] = ("113|113 Zelfmoordpreventie|113 Suicide Prevention",)
    chat_handover_timeout_seconds: int = 300
    mail_retention_days: int = 30
    mail_pickup_hours: int = 48
    mail_reply_expected_hours: int = 48
    mail_max_chars: int = 8000
    mail_max_messages: int = 200
    smtp_enabled: bool = True
    smtp_addresses: tuple[str, ...] = ()
    smtp_max_bytes: int = 1024 * 1024
    smtp_tls_cert: str = ""
    smtp_tls_key: str = ""
    smtp_from: str = ""
    smtp_relay_starttls: bool = False
    smtp_relay_user: str = ""
    smtp_relay_password: str = ""
    smtp_relay_retry_minutes: int = 60
    # On a graceful stop the gateway tries the waiting return mails this long (0: drop them at once).
    smtp_drain_seconds: int = 10
    smtp_per_minute: int = 30
    smtp_returns_per_day: int = 3
    smtp_concurrency: int = 8
    pow_base_bits: int = 16
    pow_max_bits: int = POW_MAX_BITS_CEILING
    client_address_header: str = ""
    access_log: bool = True
    log_level: str = "info"
    # Key and code transparency (PROTOCOL.md 14). The helpline's offline root key (base64 of its 32-byte
    # Ed25519 public key, from `oor root init` on a coordinator's machine): it signs every key statement.
    root_public_key: str = ""
    # The log's checkpoint origin (its signed-note key name); empty: "<host of public_url>/log".
    log_origin: str = ""
    # The log's checkpoint signing key file; empty: data_dir/log.key (made by `oor log init`, or at start).
    log_key_file: str = ""
    # The witnesses whose cosignatures the pages require: each "<witness vkey> <base URL>".
    log_witnesses: tuple[str, ...] = ()
    witness_quorum: int = 1
    witness_max_age_seconds: int = 86400
    witness_refresh_seconds: int = 3600
    log_refresh_seconds: float = 1.0

    @property
    def base_url(self) -> str:
        """The public address used in enrolment links and return mails."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.http}"

    @property
    def served_over_tls(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def gateway_addresses(self) -> frozenset[str]:
        """The addresses the mail gateway accepts: hulp@<mail_domain> and any extra ones."""
        return frozenset({f"hulp@{self.mail_domain.lower()}", *self.smtp_addresses})

    @property
    def return_mail_from(self) -> str:
        return self.smtp_from or f"noreply@{self.mail_domain}"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "oor.sqlite3"

    @property
    def kdf_memlimit_bytes(self) -> int:
        return self.kdf_memlimit_kib * 1024

    @property
    def transparency_origin(self) -> str:
        """The log's checkpoint origin: `log_origin`, else "<host of public_url, else localhost>/log"."""
        if self.log_origin:
            return self.log_origin
        host = re.sub(r"^https?://", "", self.public_url).split("/", 1)[0].rsplit(":", 1)[0] if self.public_url else ""
        return f"{host or 'localhost'}/log"

    @property
    def log_key_path(self) -> Path:
        return Path(self.log_key_file) if self.log_key_file else self.data_dir / "log.key"

    @property
    def witness_list(self) -> list[tuple[str, str]]:
        """The configured witnesses as (vkey, base URL without a trailing slash)."""
        return [(w.split()[0], w.split()[1].rstrip("/")) for w in self.log_witnesses]


_FIELDS = {f.name: f for f in dataclasses.fields(Config)}


def _coerce(key: str, value: Any) -> Any:
    """Turn a TOML or environment value into the field's type, or say what is wrong."""
    default = _FIELDS[key].default
    if key in ("http", "smtp"):
        return HostPort.parse(key, value)
    if key == "smtp_relay":
        return None if value in ("", None) else HostPort.parse(key, value)
    if key == "chat_topics":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if (not isinstance(value, list) or not value
                or not all(isinstance(v, str) and re.fullmatch(r"[^|,]{1,60}\|[^|,]{1,60}", v) for v in value)):
            raise ConfigError(f"{key}: expected a list of \"dutch|english\" labels, got {value!r}")
        return tuple(value)
    if key == "chat_partners":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if (not isinstance(value, list)
                or not all(isinstance(v, str) and re.fullmatch(r"[a-z0-9\-]{1,20}\|[^|,]{1,60}\|[^|,]{1,60}", v)
                           for v in value)
                or len({v.split("|", 1)[0] for v in value}) != len(value)):
            raise ConfigError(f"{key}: expected a list of \"key|dutch name|english name\" entries with distinct "
                              f"keys (lower-case letters, digits, '-'), got {value!r}")
        return tuple(value)
    if key == "log_witnesses":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(
                isinstance(v, str) and len(v) <= 600 and re.fullmatch(r"[^\s+]{1,200}\+[0-9a-f]{8}\+\S{4,200} "
                                                    r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~/\-]*)?", v)
                for v in value):  # the vkey itself is checked by crypto.parse_vkey (_validate_transparency)
            raise ConfigError(f"{key}: expected a list of \"<witness vkey> <http(s) base URL>\" entries, got {value!r}")
        return tuple(value)
    if key == "smtp_addresses":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(
                isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9._+\-]{1,64}@[A-Za-z0-9.\-]{1,253}", v) for v in value):
            raise ConfigError(f"{key}: expected a list of e-mail addresses, got {value!r}")
        return tuple(v.lower() for v in value)
    if key == "database_url":
        if not isinstance(value, str) or (value and not value.startswith(("postgresql://", "postgres://"))):
            # The value itself is not repeated: it may hold a password.
            raise ConfigError(f"{key}: expected empty (SQLite in data_dir) or a postgresql:// or postgres:// URL")
        return value
    if key == "hub_url":
        if not isinstance(value, str) or (value and not value.startswith(("redis://", "rediss://", "unix://"))):
            # The value itself is not repeated: it may hold a password.
            raise ConfigError(f"{key}: expected empty (live state in this process) or a redis://, rediss:// "
                              "or unix:// URL of a Redis with persistence off")
        return value
    if key == "data_dir":
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{key}: expected a folder path, got {value!r}")
        return Path(value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if isinstance(default, float):
        if isinstance(value, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?", value.strip()):
            value = float(value)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if isinstance(default, int):
        if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected text, got {value!r}")
    return value


def _validate(cfg: Config) -> None:
    positive = ("passphrase_min_length", "session_idle_minutes", "session_max_hours",
                "invitation_ttl_hours", "login_free_attempts", "login_max_delay_seconds", "login_per_minute",
                "max_request_kib", "kdf_opslimit", "kdf_memlimit_kib", "chat_max_per_volunteer",
                "chat_grace_seconds", "chat_seeker_grace_seconds", "chat_queue_max", "chat_max_message_chars",
                "chat_block_minutes",
                "chat_challenges_per_minute", "chat_idle_sockets_per_address", "chat_sockets_max",
                "chat_open_timeout_seconds", "chat_handover_timeout_seconds", "mail_retention_days", "mail_pickup_hours",
                "mail_reply_expected_hours", "mail_max_chars", "mail_max_messages", "smtp_max_bytes",
                "smtp_relay_retry_minutes", "smtp_per_minute", "smtp_returns_per_day", "smtp_concurrency")
    for key in positive:
        if getattr(cfg, key) < 1:
            raise ConfigError(f"{key}: must be at least 1, got {getattr(cfg, key)}")
    if cfg.insecure_kdf:
        if cfg.kdf_memlimit_kib < SODIUM_MIN_MEMLIMIT_KIB:
            raise ConfigError(f"kdf_memlimit_kib: libsodium needs at least {SODIUM_MIN_MEMLIMIT_KIB}")
    else:
        if cfg.kdf_memlimit_kib < PRODUCTION_MIN_MEMLIMIT_KIB:
            raise ConfigError(
                f"kdf_memlimit_kib: must be at least {PRODUCTION_MIN_MEMLIMIT_KIB} (64 MiB), "
                f"got {cfg.kdf_memlimit_kib}; only tests may set insecure_kdf = true")
        if cfg.kdf_opslimit < PRODUCTION_MIN_OPSLIMIT:
            raise ConfigError(f"kdf_opslimit: must be at least {PRODUCTION_MIN_OPSLIMIT}, got {cfg.kdf_opslimit}")
    if not 0 <= cfg.smtp_drain_seconds <= 300:
        raise ConfigError(f"smtp_drain_seconds: must be 0 to 300, got {cfg.smtp_drain_seconds}")
    if cfg.passphrase_min_length < 8:
        raise ConfigError("passphrase_min_length: must be at least 8")
    if cfg.public_url and not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~/\-]*)?", cfg.public_url):
        raise ConfigError(f"public_url: expected http(s)://host[:port][/path], got {cfg.public_url!r}")
    if not re.fullmatch(r"[A-Za-z0-9.\-]{1,253}", cfg.mail_domain):
        raise ConfigError(f"mail_domain: expected a domain name, got {cfg.mail_domain!r}")
    if not re.fullmatch(r"[A-Za-z0-9._\-]{1,64}", cfg.deployment_id):
        raise ConfigError(f"deployment_id: letters, digits, '.', '_' and '-' only, got {cfg.deployment_id!r}")
    if not cfg.quick_exit_url.startswith("https://"):
        raise ConfigError("quick_exit_url: must be an https:// address")
    if not 0 <= cfg.pow_base_bits <= cfg.pow_max_bits <= POW_MAX_BITS_CEILING:
        raise ConfigError(f"pow_base_bits and pow_max_bits: need 0 <= base <= max <= {POW_MAX_BITS_CEILING} "
                          f"(an old phone needs about 5 s for {POW_MAX_BITS_CEILING} bits, twice as long per bit "
                          f"more), got {cfg.pow_base_bits} and {cfg.pow_max_bits}")
    if cfg.chat_seeker_grace_seconds > 3600:
        raise ConfigError("chat_seeker_grace_seconds: at most 3600 (a chat and its encrypted backlog are kept "
                          f"that long for a page that is gone), got {cfg.chat_seeker_grace_seconds}")
    if cfg.chat_max_message_chars > 4000:
        raise ConfigError("chat_max_message_chars: at most 4000 (an encrypted message holds 8192 bytes)")
    if bool(cfg.smtp_tls_cert) != bool(cfg.smtp_tls_key):
        raise ConfigError("smtp_tls_cert and smtp_tls_key: give both or neither")
    if cfg.smtp_from and not re.fullmatch(r"[A-Za-z0-9._+\-]{1,64}@[A-Za-z0-9.\-]{1,253}", cfg.smtp_from):
        raise ConfigError(f"smtp_from: expected an e-mail address, got {cfg.smtp_from!r}")
    if cfg.smtp_from and cfg.smtp_from.lower() in cfg.gateway_addresses:
        # The return mail would come back to the gateway as new mail, and be answered again: a loop.
        raise ConfigError(f"smtp_from: {cfg.smtp_from!r} is one of the gateway's own addresses; "
                          "return mails must come from another address (e.g. noreply@<mail_domain>)")
    if cfg.mail_max_chars > 8000:
        raise ConfigError("mail_max_chars: at most 8000 (an encrypted mail holds 32768 bytes)")
    if cfg.client_address_header and not re.fullmatch(r"[A-Za-z0-9\-]{1,64}", cfg.client_address_header):
        raise ConfigError(f"client_address_header: a header name such as X-Real-IP, got {cfg.client_address_header!r}")
    if cfg.log_level not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"log_level: one of debug, info, warning, error; got {cfg.log_level!r}")
    _validate_transparency(cfg)


def _validate_transparency(cfg: Config) -> None:
    """The transparency settings (PROTOCOL.md 14): key encodings, witness keys, quorum and times."""
    if cfg.root_public_key:
        if len(decode_key(cfg.root_public_key)) != 32:
            raise ConfigError("root_public_key: expected the base64 of a 32-byte Ed25519 public key "
                              "(the line `oor root init` prints)")
    if cfg.log_origin and not re.fullmatch(r"[^\s+]{1,200}", cfg.log_origin):
        raise ConfigError(f"log_origin: no spaces or '+', at most 200 characters, got {cfg.log_origin!r}")
    names, keys = set(), set()
    for entry in cfg.log_witnesses:
        vkey = entry.split()[0]
        try:
            name, alg, public = crypto.parse_vkey(vkey)
        except Exception:
            raise ConfigError(f"log_witnesses: {vkey!r} is not a witness vkey") from None
        if alg != 0x04:
            raise ConfigError(f"log_witnesses: {vkey!r} is not a cosignature/v1 (Ed25519, type 0x04) vkey")
        if name in names:
            raise ConfigError(f"log_witnesses: the witness name {name!r} is there twice")
        if public in keys:  # a quorum counts keys: one key under two names is one witness
            raise ConfigError(f"log_witnesses: the key of {name!r} is there twice")
        names.add(name)
        keys.add(public)
    # witness_quorum above the number of witnesses is no loading error (a test or a tool may load any
    # configuration); `oor serve` refuses to start with it (server/transparency/log.py start_problems).
    if not 0 <= cfg.witness_quorum <= 16:
        raise ConfigError(f"witness_quorum: 0 to 16, got {cfg.witness_quorum}")
    if not 60 <= cfg.witness_max_age_seconds <= 30 * 86400:
        raise ConfigError(f"witness_max_age_seconds: 60 to 2592000, got {cfg.witness_max_age_seconds}")
    if not 1 <= cfg.witness_refresh_seconds < cfg.witness_max_age_seconds:
        raise ConfigError("witness_refresh_seconds: at least 1 and below witness_max_age_seconds (cosignatures must "
                          f"be refreshed before the pages find them stale), got {cfg.witness_refresh_seconds}")
    if not 0.01 <= cfg.log_refresh_seconds <= 3600:
        raise ConfigError(f"log_refresh_seconds: 0.01 to 3600, got {cfg.log_refresh_seconds}")


def decode_key(text: str) -> bytes:
    """A public key as configured: standard base64 (as signed notes write it) or the protocol's URL-safe
    unpadded base64; b"" if it is neither."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return crypto.b64decode(text)
    except crypto.InvalidInput:
        return b""


def load_config(path: Path | None = None, *, env: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> Config:
    """Build the configuration; raise ConfigError naming the first bad key."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    if path is None and env.get("OOR_CONFIG"):
        path = Path(env["OOR_CONFIG"])
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        for key, value in raw.items():
            if key not in _FIELDS:
                raise ConfigError(f"config file {path}: unknown key {key!r}")
            values[key] = _coerce(key, value)
    for name, value in env.items():
        if not name.startswith("OOR_") or name == "OOR_CONFIG" or name.startswith("OOR_AUDIT_"):
            continue  # OOR_AUDIT_* belong to `oor audit`, not to the server
        key = name[4:].lower()
        if key not in _FIELDS:
            raise ConfigError(f"environment: unknown variable {name}")
        values[key] = _coerce(key, value)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in _FIELDS:
            raise ConfigError(f"unknown option {key!r}")
        values[key] = _coerce(key, value) if isinstance(value, (str, int, bool)) else value
    cfg = Config(**values)
    _validate(cfg)
    return cfg
