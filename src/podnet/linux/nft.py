"""nftables in a namespace: rulesets applied atomically with one ``nft -f -`` per call.

``nft -f`` reads the whole text and commits it as one netlink batch: either every table, chain,
rule and element of it is in place, or (on any error) none is. The ``nft`` process is started
by the calling thread while it is inside the target namespace, so it inherits that namespace and
only that one (never the host's: :func:`podnet.linux.netns.assert_not_host`).

Also here: the masquerade the plugins install for traffic leaving the pod network
(:func:`masquerade_ruleset`), rendered from the plan's structured rules, since the plan carries
them as the plugin's own iptables lines (``iptables -t nat -S``) for display.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from podnet.linux import netns
from podnet.plugins.plan import MasqRule

MASQ_TABLE = "podnet-masq"
#: kube-proxy's masquerade bit: traffic it marked is its business (it masquerades it itself).
KUBE_PROXY_MARK = "0x00004000"


class NftError(RuntimeError):
    """``nft -f`` refused a ruleset; the message has nft's own error lines."""


def nft_path() -> str:
    path = shutil.which("nft")
    if path is None:
        raise NftError("the nft command (nftables) is missing: apt-get install nftables")
    return path


def run(ns: str, args: Sequence[str], stdin: str | None = None, timeout: float = 60.0) -> str:
    """Run ``nft ARGS`` inside namespace ``ns``; its stdout, or NftError with its stderr."""
    exe = nft_path()
    with netns.enter(ns):
        netns.assert_not_host("run nft")
        proc = subprocess.run([exe, *args], input=stdin, capture_output=True, text=True,
                              timeout=timeout, check=False)
    if proc.returncode != 0:
        raise NftError(f"nft {' '.join(args)} in {ns} failed:\n{proc.stderr.strip()}")
    return proc.stdout


def load(ns: str, text: str) -> None:
    """Apply ``text`` (``nft -f`` syntax) in ``ns`` as one transaction."""
    if not text.strip():
        return
    run(ns, ["-f", "-"], stdin=text)


def load_many(texts: Sequence[tuple[str, str]], workers: int = 8) -> None:
    """:func:`load` each ``(namespace, text)``, several at once: most of a load is starting
    ``nft`` and its netlink round trips (~30 ms), and nodes' tables are independent. Each
    thread enters its own namespace (setns is per thread). The first failure is raised once
    every load has ended."""
    if len(texts) <= 1:
        for ns, text in texts:
            load(ns, text)
        return
    with ThreadPoolExecutor(max_workers=min(workers, len(texts))) as pool:
        futures = [pool.submit(load, ns, text) for ns, text in texts]
    for f in futures:
        f.result()


def list_tables(ns: str) -> list[str]:
    out = run(ns, ["list", "tables"])
    return [line.split(None, 1)[1] for line in out.splitlines() if line.startswith("table ")]


def _set(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _comment(text: str) -> str:
    text = text.replace('"', "'").replace("\n", " ")
    return text[:120]


def masquerade_ruleset(rules: Sequence[MasqRule], table: str = MASQ_TABLE,
                       families: Sequence[int] = (4,)) -> str:
    """The plugin's source NAT for traffic leaving the pod network, as an nft transaction.

    Each :class:`MasqRule` ("from these prefixes, to anything but those, out of that device")
    becomes one ``masquerade fully-random`` rule, commented with the plugin's own iptables
    line; traffic kube-proxy marked for masquerade is left to kube-proxy, as flanneld and
    Felix do. One table per family in ``families`` (``ip``, and ``ip6`` for the IPv6 half of a
    dual-stack cluster — the plugin's ip6tables rules)."""
    lines: list[str] = []
    for family in families:
        nf, v6 = ("ip6", True) if family == 6 else ("ip", False)
        lines += [
            f"add table {nf} {table}",
            f"delete table {nf} {table}",
            f"add table {nf} {table}",
            f"add chain {nf} {table} postrouting {{ type nat hook postrouting priority srcnat ; }}",
            f"add rule {nf} {table} postrouting meta mark & {KUBE_PROXY_MARK} == {KUBE_PROXY_MARK} "
            "return",
        ]
        for r in rules:
            src = [x for x in r.sources if (":" in x) == v6]
            except_ = [d for d in r.except_destinations if (":" in d) == v6]
            if not src:
                continue
            match = f"{nf} saddr {_set(src)}"
            if except_:
                match += f" {nf} daddr != {_set(except_)}"
            if r.out_dev:
                match += f' oifname "{r.out_dev}"'
            lines.append(f'add rule {nf} {table} postrouting {match} masquerade fully-random '
                         f'comment "{_comment(r.rule)}"')
    return "\n".join(lines) + "\n"
