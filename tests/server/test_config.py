"""Configuration: TOML, environment, flags; unknown keys and bad values stop start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.cli import main
from server.config import PRODUCTION_MIN_MEMLIMIT_KIB, Config, HostPort, load_config
from server.errors import ConfigError


def test_defaults_are_production_strength_and_private() -> None:
    cfg = load_config(env={})
    assert cfg.kdf_memlimit_kib >= 64 * 1024 and cfg.kdf_opslimit >= 3 and not cfg.insecure_kdf
    assert cfg.http == HostPort("127.0.0.1", 8080) and cfg.smtp == HostPort("127.0.0.1", 2525)
    assert cfg.invitation_ttl_hours == 72


def test_toml_then_environment_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "oor.toml"
    path.write_text('http = "0.0.0.0:9000"\nmail_domain = "hulp.example"\nsession_idle_minutes = 10\n')
    cfg = load_config(path, env={"OOR_SESSION_IDLE_MINUTES": "20"}, overrides={"mail_domain": "flag.example"})
    assert cfg.http == HostPort("0.0.0.0", 9000)
    assert cfg.session_idle_minutes == 20
    assert cfg.mail_domain == "flag.example"


@pytest.mark.parametrize("toml,named", [
    ('htp = "127.0.0.1:1"\n', "'htp'"),
    ('http = "localhost"\n', "http"),
    ('session_idle_minutes = "soon"\n', "session_idle_minutes"),
    ('insecure_kdf = "maybe"\n', "insecure_kdf"),
    ("kdf_memlimit_kib = 1024\n", "kdf_memlimit_kib"),
    ("kdf_opslimit = 1\n", "kdf_opslimit"),
    ('quick_exit_url = "http://plain.example"\n', "quick_exit_url"),
    ('public_url = "ftp://x"\n', "public_url"),
    ("passphrase_min_length = 4\n", "passphrase_min_length"),
    ("chat_seeker_grace_seconds = 0\n", "chat_seeker_grace_seconds"),
    ("chat_seeker_grace_seconds = 3601\n", "chat_seeker_grace_seconds"),
    ('chat_seeker_grace_seconds = "10 min"\n', "chat_seeker_grace_seconds"),
    ("this is not toml\n", "oor.toml"),
])
def test_bad_config_file_names_the_key(tmp_path: Path, toml: str, named: str) -> None:
    path = tmp_path / "oor.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=named):
        load_config(path, env={})


def test_the_help_seekers_grace_period_is_its_own_and_longer_by_default(tmp_path: Path) -> None:
    """Issue 15: a phone in a pocket needs minutes to come back, a volunteer's console seconds."""
    cfg = load_config(env={})
    assert cfg.chat_seeker_grace_seconds == 600 and cfg.chat_grace_seconds == 60
    path = tmp_path / "oor.toml"
    path.write_text("chat_seeker_grace_seconds = 900\n")
    assert load_config(path, env={}).chat_seeker_grace_seconds == 900
    cfg = load_config(path, env={"OOR_CHAT_SEEKER_GRACE_SECONDS": "1200"})
    assert cfg.chat_seeker_grace_seconds == 1200 and cfg.chat_grace_seconds == 60
    with pytest.raises(ConfigError, match="chat_seeker_grace_seconds"):
        load_config(env={"OOR_CHAT_SEEKER_GRACE_SECONDS": "-5"})


def test_unknown_environment_variable_is_an_error() -> None:
    with pytest.raises(ConfigError, match="OOR_SESION_IDLE_MINUTES"):
        load_config(env={"OOR_SESION_IDLE_MINUTES": "5"})


def test_insecure_kdf_only_with_the_explicit_flag() -> None:
    with pytest.raises(ConfigError, match="kdf_memlimit_kib"):
        load_config(env={"OOR_KDF_MEMLIMIT_KIB": "8"})
    cfg = load_config(env={"OOR_INSECURE_KDF": "true", "OOR_KDF_MEMLIMIT_KIB": "8", "OOR_KDF_OPSLIMIT": "1"})
    assert cfg.kdf_memlimit_bytes == 8192 and cfg.kdf_memlimit_kib < PRODUCTION_MIN_MEMLIMIT_KIB


def test_config_is_frozen() -> None:
    cfg = Config()
    with pytest.raises(AttributeError):
        cfg.kdf_opslimit = 1  # type: ignore[misc]


def test_cli_stops_with_a_message_naming_the_bad_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "oor.toml"
    path.write_text('kdf_memlimit_kib = 100\n')
    monkeypatch.delenv("OOR_CONFIG", raising=False)
    assert main(["serve", "--config", str(path)]) == 2
    assert "kdf_memlimit_kib" in capsys.readouterr().err
    assert main(["serve", "--http", "nonsense", "--data", str(tmp_path)]) == 2
    assert "http" in capsys.readouterr().err


def test_hub_url_names_a_redis_and_is_never_shown() -> None:
    """`hub_url` (live state in Redis, shared by several nodes) may hold a password: it is accepted only
    as a redis://, rediss:// or unix:// URL, left out of the repr, and not repeated in an error."""
    assert load_config(env={}).hub_url == ""  # the default: live state in this process's memory
    for url in ("redis://:geheim@127.0.0.1:6379/0", "rediss://oor:geheim@redis.example:6380/1",
                "unix:///run/redis/redis.sock?db=0"):
        cfg = load_config(env={"OOR_HUB_URL": url})
        assert cfg.hub_url == url and "geheim" not in repr(cfg)
    for bad in ("http://:geheim@127.0.0.1:6379", "geheim", "postgresql://u:geheim@h/db"):
        with pytest.raises(ConfigError, match="hub_url") as refused:
            load_config(env={"OOR_HUB_URL": bad})
        assert "geheim" not in str(refused.value)


def test_hub_url_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "oor.toml"
    path.write_text('hub_url = "redis://127.0.0.1:6390/2"\n')
    assert load_config(path, env={}).hub_url == "redis://127.0.0.1:6390/2"
    path.write_text("hub_url = 6379\n")
    with pytest.raises(ConfigError, match="hub_url"):
        load_config(path, env={})
