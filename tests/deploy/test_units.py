"""The systemd units, the system user and the sample configuration of `deploy/`.

systemd itself checks the units (`systemd-analyze verify`, which reports unknown directives and
bad values, and `systemd-analyze security`, which scores the sandbox); the tests below also hold
each unit to the hardening it promises, its command line to the real `oor` parser, and the sample
`oor.toml` and `env.example` to the project's configuration loader and to the nginx site.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.chat.ws import HEARTBEAT_SECONDS
from server.cli import build_parser
from server.config import HostPort, load_config
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
SYSTEMD = DEPLOY / "systemd"
UNITS = sorted(SYSTEMD.glob("*.service"))
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
INSTALLED_OOR = "/opt/luisterend-oor/venv/bin/oor"
DATA_DIR = "/var/lib/luisterend-oor"
CONFIG = "/etc/luisterend-oor/oor.toml"

# Every unit carries these, with exactly these values (an empty value: the empty set).
HARDENING = {
    "User": "oor", "Group": "oor",
    "EnvironmentFile": "-/etc/luisterend-oor/env",
    "StateDirectory": "luisterend-oor", "ReadWritePaths": DATA_DIR, "WorkingDirectory": DATA_DIR,
    "UMask": "0077",
    "Restart": "on-failure", "KillSignal": "SIGTERM",
    "LimitNOFILE": "65536", "LimitCORE": "0",
    "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
    "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
}


def directives(path: Path) -> dict[str, list[str]]:
    """A unit file's [Service] directives, each with every value it is given (in order)."""
    found: dict[str, list[str]] = {}
    section = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        key, _, value = line.partition("=")
        found.setdefault(f"{section}{key.strip()}", []).append(value.strip())
    return found


def service(path: Path) -> dict[str, list[str]]:
    return {k.removeprefix("[Service]"): v for k, v in directives(path).items() if k.startswith("[Service]")}


def test_the_units_are_the_ones_the_readme_installs() -> None:
    assert [p.name for p in UNITS] == ["oor-gateway.service", "oor-web.service", "oor-web@.service"]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in ("oor-gateway.service", "oor-web.service", "oor-web@.service", "oor.sysusers.conf",
                 "luisterend-oor.conf", "oor-upstream.conf", "oor.toml", "env.example", "oor-admin",
                 "certbot-deploy-hook"):
        assert name in readme, name


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_each_unit_has_the_hardening_it_promises(unit: Path) -> None:
    found = service(unit)
    for key, value in HARDENING.items():
        assert found.get(key) == [value], f"{unit.name}: {key}={found.get(key)} (expected {value!r})"
    stop = found["TimeoutStopSec"]
    assert len(stop) == 1 and 30 <= int(stop[0].removesuffix("s")) <= 120, stop
    assert found["Type"] == ["exec"]
    assert "[Install]WantedBy" in directives(unit)


@pytest.mark.parametrize("unit,only", [("oor-web.service", "web"), ("oor-web@.service", "web"),
                                       ("oor-gateway.service", "smtp")])
def test_each_unit_runs_the_real_command_line(unit: str, only: str) -> None:
    (command,) = service(SYSTEMD / unit)["ExecStart"]
    argv = shlex.split(command.replace("%i", "8081"))
    assert argv[0] == INSTALLED_OOR
    args = build_parser().parse_args(argv[1:])  # the project's own parser: a renamed flag fails here
    assert (args.command, args.only, str(args.config)) == ("serve", only, CONFIG)
    assert args.http == ("127.0.0.1:8081" if unit == "oor-web@.service" else None)


def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    """A copy of each unit whose ExecStart names an executable that exists here (the venv's `oor`);
    everything else as shipped. Unknown directives, bad values and unknown sections are reported by
    systemd-analyze on stderr (with exit status 0): any output at all fails the test."""
    oor = Path(sys.executable).parent / "oor"
    assert oor.exists(), oor
    copies = []
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8")
        assert text.count(INSTALLED_OOR) == 1, unit.name
        copy = tmp_path / unit.name
        copy.write_text(text.replace(INSTALLED_OOR, str(oor)), encoding="utf-8")
        copies.append(str(copy))
    done = subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", *copies],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), done.stdout + done.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_analyze_security_rates_the_sandbox_ok(unit: Path) -> None:
    """systemd's own exposure score, 0 (locked down) to 10: at most 2.0 (the units are at 1.4-1.5)."""
    done = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=true", "--threshold=20", "--no-pager",
                           str(unit)], capture_output=True, text=True, timeout=120)
    score = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
    assert done.returncode == 0 and score and float(score[1]) <= 2.0, done.stdout[-2000:] + done.stderr


def test_the_system_user_is_made_by_systemd_sysusers(tmp_path: Path) -> None:
    sysusers = shutil.which("systemd-sysusers") or "/usr/bin/systemd-sysusers"
    (tmp_path / "etc").mkdir()
    done = subprocess.run([sysusers, f"--root={tmp_path}", str(SYSTEMD / "oor.sysusers.conf")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (user,) = [line for line in (tmp_path / "etc/passwd").read_text().splitlines() if line.startswith("oor:")]
    name, _, uid, gid, _, home, shell = user.split(":")
    assert int(uid) < 1000 and home == DATA_DIR and shell == "/usr/sbin/nologin"  # a system user, no login
    assert f"oor:x:{gid}:" in (tmp_path / "etc/group").read_text()


@pytest.mark.parametrize("script,needs", [
    ("oor-admin", ("runuser -u oor", "/etc/luisterend-oor/env", INSTALLED_OOR)),
    ("certbot-deploy-hook", ("RENEWED_LINEAGE", "-g oor", "/etc/luisterend-oor/tls", "systemctl reload nginx")),
])
def test_the_helper_scripts_are_valid_shell(script: str, needs: tuple[str, ...]) -> None:
    path = DEPLOY / script
    assert path.stat().st_mode & 0o111, f"{script} must be executable"
    subprocess.run(["sh", "-n", str(path)], check=True, timeout=30)
    text = path.read_text(encoding="utf-8")
    assert all(part in text for part in needs), script


def test_the_gateway_certificate_is_where_the_hook_puts_it() -> None:
    cfg = load_config(DEPLOY / "oor.toml", env={})
    hook = (DEPLOY / "certbot-deploy-hook").read_text(encoding="utf-8")
    assert cfg.smtp_tls_cert == "/etc/luisterend-oor/tls/fullchain.pem" and "fullchain.pem" in hook
    assert cfg.smtp_tls_key == "/etc/luisterend-oor/tls/privkey.pem" and "privkey.pem" in hook


def test_the_sample_configuration_loads_and_matches_the_units_and_nginx() -> None:
    cfg = load_config(DEPLOY / "oor.toml", env={})
    assert cfg.served_over_tls and cfg.public_url == "https://hulp.example.nl"
    assert cfg.client_address_header == "X-Real-IP"  # what deploy/nginx sets
    assert str(cfg.data_dir) == DATA_DIR  # the units' ReadWritePaths and StateDirectory
    assert cfg.http == HostPort("127.0.0.1", 8080)
    upstream = (DEPLOY / "nginx" / "oor-upstream.conf").read_text(encoding="utf-8")
    assert f"\n    server {cfg.http} " in upstream  # the first node; oor-web@8081 is the second
    assert "\n    server 127.0.0.1:8081 " in upstream
    # The gateway listens unprivileged; port 25 is redirected to it (README), no capability needed.
    assert cfg.smtp.port > 1024 and cfg.smtp_tls_cert and cfg.smtp_relay is not None
    assert not cfg.insecure_kdf and cfg.kdf_memlimit_kib >= 65536
    site = (DEPLOY / "nginx" / "luisterend-oor.conf").read_text(encoding="utf-8")
    # nginx refuses bodies the node would refuse, and holds every one it accepts in memory.
    assert f"client_max_body_size {cfg.max_request_kib}k;" in site
    assert f"client_body_buffer_size {cfg.max_request_kib}k;" in site
    # A chat socket is pinged every HEARTBEAT_SECONDS; nginx must wait for at least a few pings.
    ws = site[site.index("location /ws/"):]
    read = int(re.search(r"proxy_read_timeout (\d+)s;", ws)[1])
    assert read >= 3 * HEARTBEAT_SECONDS and read >= cfg.chat_open_timeout_seconds


def test_the_sample_environment_file_loads_with_the_configuration() -> None:
    """env.example, as systemd and oor-admin read it: KEY=value lines, the database address among them."""
    env: dict[str, str] = {}
    for line in (DEPLOY / "env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            assert re.fullmatch(r"OOR_[A-Z_]+", key) and not re.search(r"[\s'\"$`\\]", value), line
            env[key] = value
    assert env["OOR_CONFIG"] == CONFIG
    env["OOR_CONFIG"] = str(DEPLOY / "oor.toml")
    cfg = load_config(env=env)
    assert cfg.database_url == "postgresql://oor:CHANGE-ME@localhost:5432/oor"  # type: ignore[attr-defined]
    assert cfg.smtp_relay_password == "CHANGE-ME"


def test_the_gateway_yields_the_cpu_to_the_chats() -> None:
    # A mail flood makes the gateway derive production Argon2id keys back to back; the web units must still
    # get a core at once for a chat frame (bench/README.md, "At production cost": chat p99 during mail).
    gateway = service(SYSTEMD / "oor-gateway.service")
    assert int(gateway["Nice"][-1]) >= 10
    assert int(gateway["CPUWeight"][-1]) < 100
    for name in ("oor-web.service", "oor-web@.service"):
        web = service(SYSTEMD / name)
        assert int(web.get("Nice", ["0"])[-1]) < int(gateway["Nice"][-1]), name
        assert int(web.get("CPUWeight", ["100"])[-1]) > int(gateway["CPUWeight"][-1]), name
