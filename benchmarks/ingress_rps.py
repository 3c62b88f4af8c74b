"""Ingress throughput: ``podnet ingress serve`` against nginx, same routes, same backends.

Builds 200 Ingresses with 1,000 host/path rules (5 paths on each of 200 hosts, 40 Services of 2
pods each, TLS for every host from one wildcard certificate, ``ssl-redirect: "false"`` so that plain
HTTP is proxied too); starts the emulated pods once, in their own process (``podnet ingress
backends``); then, one after the other, puts in front of them

* ``podnet ingress serve --backend-map`` (one process, uvloop), and
* nginx from Debian, one worker, with a configuration laid out as ingress-nginx lays it out for
  these Ingresses: one ``server`` per host, per Prefix path a ``location /p/`` plus
  ``location = /p``, upstreams with ``keepalive``, the same ``proxy_set_header`` lines, the same
  certificate, access log off for both;

and drives each with wrk (keep-alive, one thread, 50 connections) over HTTP and HTTPS with a Lua
script that cycles through all 1,000 host/path URLs (Host header per request). Prints requests/s
and p99 latency of both and their ratio. Only 127.0.0.1 is used; nginx runs in the foreground
from a temporary directory and is stopped at the end.

    .venv/bin/python benchmarks/ingress_rps.py                   # 10 s per run
    .venv/bin/python benchmarks/ingress_rps.py --seconds 3       # a quick look

wrk and nginx come from Debian (``apt-get install wrk nginx``); the script installs them when
missing and it runs as root. Target (issue 6): ≥ 0.5× nginx's requests/s, p99 within 2×.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

HOSTS = 200
PATHS = 5
SERVICES = 40
REPLICAS = 2
NAMESPACES = 4
DOMAIN = "bench.example.com"


def ensure_tools() -> None:
    missing = [p for p, b in (("wrk", "wrk"), ("nginx", "nginx")) if not shutil.which(b) and not Path(f"/usr/sbin/{b}").exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"missing {', '.join(missing)}: apt-get install {' '.join(missing)}")
    print(f"installing {' '.join(missing)} …", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *missing],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        stdout=subprocess.DEVNULL,
    )


def nginx_bin() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


# ------------------------------------------------------------------------------------ manifests


def wildcard_cert() -> tuple[bytes, bytes]:
    from podnet.servers.ingress_tls import self_signed

    return self_signed(f"*.{DOMAIN}", (f"*.{DOMAIN}",), rsa=False)


def manifests(cert: bytes, key: bytes) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    namespaces = [f"bench{i}" for i in range(NAMESPACES)]
    for ns in namespaces:
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/tls",
                "metadata": {"name": "wildcard-tls", "namespace": ns},
                "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()},
            }
        )
    for s in range(SERVICES):
        ns = namespaces[s % NAMESPACES]
        name = f"svc{s}"
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": ns},
                "spec": {
                    "replicas": REPLICAS,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": "app", "image": "app", "ports": [{"name": "http", "containerPort": 8080}]}]},
                    },
                },
            }
        )
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
            }
        )
    for h in range(HOSTS):
        ns = namespaces[h % NAMESPACES]
        host = f"app{h}.{DOMAIN}"
        paths = []
        for p in range(PATHS):
            svc = _svc_for(h, p)
            paths.append(
                {
                    "path": f"/p{p}",
                    "pathType": "Prefix",
                    "backend": {"service": {"name": f"svc{svc}", "port": {"number": 80}}},
                }
            )
        docs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {
                    "name": f"ing{h}",
                    "namespace": ns,
                    "annotations": {"nginx.ingress.kubernetes.io/ssl-redirect": "false"},
                },
                "spec": {
                    "ingressClassName": "nginx",
                    "tls": [{"hosts": [host], "secretName": "wildcard-tls"}],
                    "rules": [{"host": host, "http": {"paths": paths}}],
                },
            }
        )
    return docs


def _svc_for(h: int, p: int) -> int:
    # services live in namespace bench{svc % 4}; an Ingress in bench{h % 4} reaches its own ones
    ns = h % NAMESPACES
    per_ns = SERVICES // NAMESPACES
    return ns + NAMESPACES * ((h * PATHS + p) % per_ns)


def requests_list() -> list[tuple[str, str]]:
    return [(f"app{h}.{DOMAIN}", f"/p{p}/item") for h in range(HOSTS) for p in range(PATHS)]


# ------------------------------------------------------------------------------------ nginx


def nginx_conf(
    prefix: Path, http_port: int, https_port: int, backend_map: dict[str, dict[str, str]], cert: Path, key: Path
) -> str:
    """ingress-nginx's layout of the same Ingresses (the parts that matter for throughput)."""
    from podnet.cli.context import Options, compute
    from podnet.ingress.table import RouteTable
    from podnet.servers.backend import BackendKey, map_key

    state = compute(Options(filenames=[str(prefix / "manifests.yaml")])).state
    table = RouteTable.build(state)
    upstreams: list[str] = []
    for ups in table.upstreams.values():
        if not ups.endpoints or ups.service_ref is None:
            continue
        servers = []
        for ep in ups.endpoints:
            entry = backend_map[map_key(BackendKey(ups.service_ref, ep.address, ep.port))]
            servers.append(f"    server {entry['http']} max_fails=0;")
        upstreams.append(f"  upstream {ups.name} {{\n" + "\n".join(servers) + "\n    keepalive 320;\n    keepalive_timeout 60s;\n    keepalive_requests 10000;\n  }")
    proxy = """
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "";
      proxy_set_header X-Request-ID $request_id;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Port $server_port;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Scheme $scheme;
      proxy_set_header X-Scheme $scheme;
      proxy_set_header X-Original-Forwarded-For $http_x_forwarded_for;
      proxy_set_header Proxy "";
      proxy_connect_timeout 5s;
      proxy_send_timeout 60s;
      proxy_read_timeout 60s;
      proxy_buffering off;
      proxy_request_buffering on;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;"""
    servers: list[str] = []
    for name, server in sorted(table.servers.items()):
        if name == "_":
            continue
        locs: list[str] = []
        for loc in server.locations:
            if loc.is_default:
                locs.append("    location / { return 404; }")
                continue
            body = f"proxy_pass http://{loc.upstream};{proxy}"
            norm = loc.path if loc.path.endswith("/") else loc.path + "/"
            locs.append(f"    location {norm} {{\n      {body}\n    }}")
            locs.append(f"    location = {loc.path} {{\n      {body}\n    }}")
        servers.append(
            f"  server {{\n    server_name {name};\n    listen 127.0.0.1:{http_port};\n"
            f"    listen 127.0.0.1:{https_port} ssl;\n    ssl_certificate {cert};\n    ssl_certificate_key {key};\n"
            + "\n".join(locs)
            + "\n  }"
        )
    return f"""
worker_processes 1;
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; multi_accept on; }}
http {{
  access_log off;
  server_tokens off;
  keepalive_timeout 75s;
  keepalive_requests 1000;
  client_body_temp_path {prefix}/client_body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  server_names_hash_bucket_size 128;
  server_names_hash_max_size 4096;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:10m;
  server {{
    listen 127.0.0.1:{http_port} default_server;
    listen 127.0.0.1:{https_port} ssl default_server;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location / {{ return 404; }}
  }}
{chr(10).join(upstreams)}
{chr(10).join(servers)}
}}
"""


# ------------------------------------------------------------------------------------ running


def podnet_cmd() -> list[str]:
    override = os.environ.get("PODNET_BENCH_CMD")
    if override:
        return override.split()
    exe = Path(sys.executable).with_name("podnet")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "podnet.cli.main"]


def wait_line(proc: subprocess.Popen[str], pattern: str, timeout: float) -> list[str]:
    """Lines of ``proc``'s stdout up to the first matching ``pattern``."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError(f"process exited ({proc.returncode}): {''.join(lines)}")
            continue
        lines.append(line.rstrip("\n"))
        if re.search(pattern, line):
            return lines
    raise RuntimeError(f"timed out waiting for {pattern!r}")


def free_ports(n: int) -> list[int]:
    import socket

    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(int(s.getsockname()[1]))
    for s in socks:
        s.close()
    return ports


LUA = """
local reqs = {}
for line in io.lines("%s") do
  local host, path = line:match("^(%%S+) (%%S+)$")
  reqs[#reqs + 1] = wrk.format("GET", path, { ["Host"] = host })
end
local i = 0
request = function()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
local bad = 0
response = function(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("p99_us %%d\\n", latency:percentile(99)))
  io.write(string.format("p50_us %%d\\n", latency:percentile(50)))
end
"""


def run_wrk(url: str, script: Path, seconds: int, connections: int) -> dict[str, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = float(re.search(r"p99_us (\d+)", out).group(1)) / 1000.0  # type: ignore[union-attr]
    p50 = float(re.search(r"p50_us (\d+)", out).group(1)) / 1000.0  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p99_ms": p99,
        "p50_ms": p50,
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": 0.0 if not errors else float(sum(int(x) for x in re.findall(r"\d+", errors.group(1)))),
    }


def check(url: str, host: str, path: str, https: bool) -> dict[str, Any]:
    import ssl

    req = urllib.request.Request(url + path, headers={"Host": host})
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(req, timeout=10, context=ctx if https else None) as r:  # noqa: S310 (loopback)
        data: dict[str, Any] = json.loads(r.read())
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    ap.add_argument("--connections", type=int, default=50)
    args = ap.parse_args(argv)
    ensure_tools()
    procs: list[subprocess.Popen[str]] = []
    tmp = Path(tempfile.mkdtemp(prefix="podnet-ingress-bench-"))
    results: dict[tuple[str, str], dict[str, float]] = {}
    try:
        cert, key = wildcard_cert()
        (tmp / "manifests.yaml").write_text(yaml.safe_dump_all(manifests(cert, key)))
        (tmp / "tls.crt").write_bytes(cert)
        (tmp / "tls.key").write_bytes(key)
        (tmp / "requests.txt").write_text("".join(f"{h} {p}\n" for h, p in requests_list()))
        (tmp / "wrk.lua").write_text(LUA % (tmp / "requests.txt"))
        for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (tmp / d).mkdir()
        print(f"{HOSTS} Ingresses, {HOSTS * PATHS} host/path rules, {SERVICES} Services × {REPLICAS} pods; "
              f"wrk -t1 -c{args.connections} -d{args.seconds}s per run", flush=True)

        env = {**os.environ, "PODNET_HOME": str(tmp / "home")}
        backends = subprocess.Popen(
            [*podnet_cmd(), "ingress", "backends", "-f", str(tmp / "manifests.yaml"), "--map-out", str(tmp / "map.json")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        procs.append(backends)
        wait_line(backends, r"^ready", 120)
        backend_map = json.loads((tmp / "map.json").read_text())

        http_p, https_p, nh, ns_ = free_ports(4)
        t0 = time.time()
        podnet = subprocess.Popen(
            [*podnet_cmd(), "ingress", "serve", "-f", str(tmp / "manifests.yaml"),
             "--listen", f"127.0.0.1:{http_p}", "--tls-listen", f"127.0.0.1:{https_p}",
             "--backend-map", str(tmp / "map.json"), "--access-log", "off", "--seed", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        procs.append(podnet)
        wait_line(podnet, r"^listening on https://", 120)
        print(f"podnet ingress serve ready in {time.time() - t0:.1f}s", flush=True)

        (tmp / "nginx.conf").write_text(nginx_conf(tmp, nh, ns_, backend_map, tmp / "tls.crt", tmp / "tls.key"))
        nginx = subprocess.Popen([nginx_bin(), "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(nginx)
        for _ in range(100):
            try:
                check(f"http://127.0.0.1:{nh}", f"app0.{DOMAIN}", "/p0", False)
                break
            except OSError:
                time.sleep(0.1)
        version = subprocess.run([nginx_bin(), "-v"], capture_output=True, text=True).stderr.strip()
        print(f"{version}, one worker; wrk {subprocess.run(['wrk', '-v'], capture_output=True, text=True).stdout.split()[1]}", flush=True)

        # the same request reaches the same Service through both
        for h, p in [(f"app7.{DOMAIN}", "/p3/x"), (f"app150.{DOMAIN}", "/p1")]:
            a = check(f"http://127.0.0.1:{http_p}", h, p, False)
            b = check(f"http://127.0.0.1:{nh}", h, p, False)
            c = check(f"https://127.0.0.1:{https_p}", h, p, True)
            assert a["service"] == b["service"] == c["service"], (a, b, c)

        targets = {
            "podnet": {"http": f"http://127.0.0.1:{http_p}", "https": f"https://127.0.0.1:{https_p}"},
            "nginx": {"http": f"http://127.0.0.1:{nh}", "https": f"https://127.0.0.1:{ns_}"},
        }
        for scheme in ("http", "https"):
            for who in ("podnet", "nginx"):
                run_wrk(targets[who][scheme], tmp / "wrk.lua", 2, args.connections)  # warm-up
                results[(who, scheme)] = r = run_wrk(targets[who][scheme], tmp / "wrk.lua", args.seconds, args.connections)
                print(f"  {who:<7} {scheme:<5} {r['rps']:>9.0f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms"
                      f"  non-2xx {int(r['non2xx'])}  socket errors {int(r['socket_errors'])}", flush=True)
        print()
        print(f"{'':7} {'':5} {'podnet req/s':>13} {'nginx req/s':>12} {'ratio':>6} {'podnet p99':>11} {'nginx p99':>10} {'p99 ratio':>9}")
        for scheme in ("http", "https"):
            p, n = results[("podnet", scheme)], results[("nginx", scheme)]
            print(f"{'':7} {scheme:<5} {p['rps']:>13.0f} {n['rps']:>12.0f} {p['rps'] / n['rps']:>6.2f} "
                  f"{p['p99_ms']:>9.2f}ms {n['p99_ms']:>8.2f}ms {p['p99_ms'] / n['p99_ms']:>9.2f}")
        print("target: req/s ratio ≥ 0.5, p99 ratio ≤ 2")
        return 0
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
