"""The names podnet gives what it creates on the machine, and how it recognises them again.

Every network namespace of a cluster is named ``pn-<cluster>-<role>``:

* ``pn-<cluster>-underlay`` — the "physical" network joining the nodes (a bridge);
* ``pn-<cluster>-outside`` — the world outside the cluster: external clients, the emulated
  internet, the gateway of the nodes;
* ``pn-<cluster>-node-<node>`` — one per node;
* ``pn-<cluster>-pod-<namespace>.<pod>`` — one per pod (a Kubernetes namespace has no dot, so
  the first dot separates the two; very long names are cut and completed with a hash).

Links live inside those namespaces, so their names only have to be unique there and fit Linux's
15 characters (``IFNAMSIZ`` - 1); the names the plugins use (``eth0``, ``cni0``, ``flannel.1``,
``cali…``) are kept as the real plugins spell them.

Recognising a cluster's namespaces again (``podnet down``, or leftovers after a crash) goes by
the prefix and the role. A cluster named ``a`` and one named ``a-node-x`` would both match
``pn-a-node-…``; for those rare ambiguous names the namespace's ``lo`` alias, set to
``podnet:<cluster>`` when podnet creates it, decides (:func:`needs_marker_check`).
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "pn-"
IFNAMSIZ = 15
#: The alias podnet puts on ``lo`` of every namespace it creates: ``podnet:<cluster>``.
MARKER = "podnet:"
ROLES = ("underlay", "outside")
_MAX_NS = 200  # well under NAME_MAX (255): /run/netns/<name> and /etc/netns/<name>
_CLUSTER = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")


class NameError_(ValueError):
    """A name podnet cannot use on the machine."""


def check_cluster(cluster: str) -> str:
    if not _CLUSTER.match(cluster):
        raise NameError_(
            f'invalid cluster name "{cluster}": use letters, digits, ".", "-" and "_" '
            "(at most 63 characters, starting and ending with a letter or digit)"
        )
    return cluster


def prefix(cluster: str) -> str:
    """``pn-<cluster>-``: what every namespace of the cluster starts with."""
    return f"{PREFIX}{check_cluster(cluster)}-"


def _fit(name: str) -> str:
    if len(name) <= _MAX_NS:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: _MAX_NS - 11]}-{digest}"


def underlay_ns(cluster: str) -> str:
    return prefix(cluster) + "underlay"


def outside_ns(cluster: str) -> str:
    return prefix(cluster) + "outside"


def node_ns(cluster: str, node: str) -> str:
    return _fit(prefix(cluster) + "node-" + node)


def pod_ns(cluster: str, namespace: str, pod: str) -> str:
    return _fit(f"{prefix(cluster)}pod-{namespace}.{pod}")


def role_of(cluster: str, netns: str) -> str | None:
    """``underlay``, ``outside``, ``node`` or ``pod`` when ``netns`` is named like one of
    ``cluster``'s namespaces, else None."""
    p = prefix(cluster)
    if not netns.startswith(p):
        return None
    rest = netns[len(p):]
    if rest in ROLES:
        return rest
    if rest.startswith("node-") and len(rest) > 5:
        return "node"
    if rest.startswith("pod-") and "." in rest[4:]:
        ns = rest[4:].split(".", 1)[0]
        if ns and "-" not in ns[:1]:
            return "pod"
    return None


def needs_marker_check(cluster: str, netns: str) -> bool:
    """True when ``netns`` could also belong to another cluster whose name extends this one's
    (``a`` and ``a-node-x``): then only the ``lo`` marker tells."""
    rest = netns[len(prefix(cluster)):]
    return any(f"-{r}" in rest for r in ("underlay", "outside", "node-", "pod-"))


def marker(cluster: str) -> str:
    return MARKER + cluster


def ifname(base: str, suffix: str = "") -> str:
    """``base`` + ``suffix`` cut to 15 characters, the suffix kept whole."""
    room = IFNAMSIZ - len(suffix)
    if room <= 0:
        raise NameError_(f"interface name suffix {suffix!r} is too long")
    return base[:room] + suffix


def check_ifname(name: str) -> str:
    if not name or len(name) > IFNAMSIZ or "/" in name or " " in name or name in (".", ".."):
        raise NameError_(
            f'invalid interface name "{name}": 1 to {IFNAMSIZ} characters, no "/" or spaces'
        )
    return name


def underlay_port(index: int, node: str) -> str:
    """The underlay bridge's port towards node number ``index``: ``n<i>-<node>`` (≤ 15)."""
    return ifname(f"n{index}-{node}".replace(".", "-"))


OUTSIDE_PORT = "outside"
UNDERLAY_BRIDGE = "underlay0"
NODE_UPLINK = "eth0"
POD_IF = "eth0"
