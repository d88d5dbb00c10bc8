"""Debian's nginx, run from the project's own site files in a temporary folder on free ports.

The site (`deploy/nginx/luisterend-oor.conf`) and the upstream (`deploy/nginx/oor-upstream.conf`)
are used as the operator installs them, with only the lines an operator (or a test) must change
rewritten by exact string: the ports, the certificate paths, the server name, the ACME folder
and the web nodes' ports. Each replacement must match exactly as often as expected, so a change
to a deploy file that the test no longer covers fails loudly instead of being tested half.

The upstream lists two nodes (8080 and 8081). Only their ports are rewritten; their parameters
(`max_fails`, `fail_timeout`) stay as deployed, so that the cluster tests (tests/deploy/cluster.py)
roll nodes through the failover an operator gets. A test with one node gives one port, and both
lines point at it: nginx then has the same node twice, which changes nothing for it.

The main nginx.conf written here is Debian's in the parts that matter for privacy: an access log
and gzip for the whole http block, TLS 1.0 and 1.1 allowed there, and an error log at `info`
for the whole server. The site must override all of that, and the tests check it did.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

NGINX = Path("/usr/sbin/nginx")
DEPLOY = REPO / "deploy"
SITE = DEPLOY / "nginx" / "luisterend-oor.conf"
UPSTREAM = DEPLOY / "nginx" / "oor-upstream.conf"
DOMAIN = "hulp.example.nl"


def rewrite(text: str, name: str, replacements: list[tuple[str, str, int]]) -> str:
    """Replace each `old` by `new`; `old` must occur exactly `count` times."""
    for old, new, count in replacements:
        found = text.count(old)
        if found != count:
            raise AssertionError(f"{name}: expected {count}x {old!r}, found {found}x; the deploy file changed, "
                                 "update the test's replacements (tests/deploy/nginx.py) with it")
        text = text.replace(old, new)
    return text


def make_certificate(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed P-256 certificate for `host`, made with Debian's openssl."""
    cert, key = folder / "fullchain.pem", folder / "privkey.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", f"/CN={host}", "-addext", f"subjectAltName=IP:{host}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


@dataclass
class Nginx:
    folder: Path
    https_port: int
    http_port: int
    acme_root: Path
    process: subprocess.Popen[bytes]

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def error_log(self) -> Path:
        return self.folder / "logs" / "error.log"

    @property
    def temp(self) -> Path:
        return self.folder / "temp"

    def temp_files(self) -> list[Path]:
        """What is in the temp folders: nothing, but the empty files that replaced them (start_nginx)."""
        return sorted(p for p in self.temp.rglob("*") if p.is_file() and p.stat().st_size)


def start_nginx(folder: Path, upstream_port: int | Sequence[int], https_port: int, http_port: int, *,
                worker_connections: int = 512) -> Nginx:
    """nginx with the deploy site in `folder`, passing to the web node(s) on `upstream_port`: one port
    (both upstream lines point at it) or two (the first and the second node). `worker_connections`
    bounds the open connections (every proxied websocket holds two: the client's and the node's);
    a load test raises it, as an operator does in nginx.conf."""
    ports = [upstream_port] if isinstance(upstream_port, int) else list(upstream_port)
    if len(ports) == 1:
        ports *= 2
    if len(ports) != 2:
        raise AssertionError(f"the upstream file lists two nodes; got {len(ports)} ports")
    if not NGINX.exists():
        raise AssertionError(f"{NGINX} is missing: `make test` installs Debian's nginx")
    for sub in ("logs", "temp", "conf.d", "sites-enabled", "tls", "acme/.well-known/acme-challenge"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    cert, key = make_certificate(folder / "tls")
    site = rewrite(SITE.read_text(encoding="utf-8"), SITE.name, [
        # sndbuf: a small send buffer (no autotuning), so that a slow reader makes nginx hold an
        # answer itself (in memory, or spooled to disk if the site allowed it) instead of the kernel.
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2 sndbuf=16k;", 1),
        ("listen [::]:443 ssl http2;", "# (IPv6 listen line removed by the test)", 1),
        ("listen 80;", f"listen 127.0.0.1:{http_port};", 1),
        ("listen [::]:80;", "# (IPv6 listen line removed by the test)", 1),
        (f"server_name {DOMAIN};", "server_name 127.0.0.1;", 2),
        (f"/etc/letsencrypt/live/{DOMAIN}/fullchain.pem", str(cert), 1),
        (f"/etc/letsencrypt/live/{DOMAIN}/privkey.pem", str(key), 1),
        ("root /var/www/html;", f"root {folder / 'acme'};", 1),
    ])
    upstream = rewrite(UPSTREAM.read_text(encoding="utf-8"), UPSTREAM.name, [
        # The trailing space: the parameters after the address are kept as deployed.
        ("server 127.0.0.1:8080 ", f"server 127.0.0.1:{ports[0]} ", 1),
        ("server 127.0.0.1:8081 ", f"server 127.0.0.1:{ports[1]} ", 1),
    ])
    (folder / "sites-enabled" / SITE.name).write_text(site, encoding="utf-8")
    (folder / "conf.d" / UPSTREAM.name).write_text(upstream, encoding="utf-8")
    temp = folder / "temp"
    # nginx started by root runs its workers as "nobody", who cannot enter a test's private folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(f"""\
daemon off;
{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/logs/error.log info;
worker_rlimit_nofile {worker_connections * 2 + 64};
events {{ worker_connections {worker_connections}; }}
http {{
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    # As in Debian's /etc/nginx/nginx.conf: the site must switch these off or narrow them.
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    access_log {folder}/logs/access.log;
    gzip on;
    include {folder}/conf.d/*.conf;
    include {folder}/sites-enabled/*;
}}
""", encoding="utf-8")
    args = [str(NGINX), "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", str(folder / "logs" / "error.log")]
    check = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise AssertionError(f"nginx -t refused the site:\n{check.stderr}")
    with (folder / "logs" / "nginx-output.log").open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"nginx exited early:\n{(folder / 'logs' / 'error.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", https_port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise AssertionError("nginx did not start listening")
    # nginx made its temp folders at start-up. Each is now replaced by a plain file, so that any
    # attempt to spool a request body or an answer to disk fails the request (ENOTDIR, even for
    # root) instead of passing unseen: nginx unlinks such a file the moment it creates it.
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        path = temp / sub
        path.rmdir()
        path.write_bytes(b"")
    return Nginx(folder, https_port, http_port, folder / "acme", proc)


def stop_nginx(nginx: Nginx) -> None:
    if nginx.process.poll() is None:
        nginx.process.send_signal(signal.SIGTERM)  # fast shutdown: open websockets are closed
        try:
            nginx.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.process.kill()
            nginx.process.wait(timeout=10)
