"""kube-proxy, in nftables mode: which backend a connection reaches, and the rules that do it.

* :mod:`podnet.proxy.service_map` — the :class:`ServicePlan`, kube-proxy's service and endpoints
  maps computed once from a ClusterState, and per node the usable endpoints (``categorize``).
* :mod:`podnet.proxy.connect` — :func:`outcome`: what happens to a new connection on a node,
  with every rule that applied (the chain names of the compiled ruleset).
* :mod:`podnet.proxy.nftables` — a node's ``ip``/``ip6 kube-proxy`` table exactly as kube-proxy
  lays it out: the full-sync transaction, the table dump, and partial syncs.
* :mod:`podnet.proxy.naming` — kube-proxy's chain names and hashes.

Everything here is pure (no sockets, no subprocesses); loading rules is the I/O shells' job.
"""

from podnet.proxy.connect import (
    Backend,
    Connection,
    HealthCheck,
    ProxyOutcome,
    ProxyStep,
    health_check,
    outcome,
    service_outcome,
)
from podnet.proxy.naming import ServicePortName
from podnet.proxy.nftables import (
    NodeRuleset,
    SyncResult,
    compile_node,
    full_sync,
    partial_sync,
    sort_transaction,
)
from podnet.proxy.service_map import (
    Announcement,
    Categorized,
    EndpointInfo,
    ServiceEntry,
    ServicePlan,
    ServicePortInfo,
    categorize,
)

__all__ = [
    "Announcement",
    "Backend",
    "Categorized",
    "Connection",
    "EndpointInfo",
    "HealthCheck",
    "NodeRuleset",
    "ProxyOutcome",
    "ProxyStep",
    "ServiceEntry",
    "ServicePlan",
    "ServicePortInfo",
    "ServicePortName",
    "SyncResult",
    "categorize",
    "compile_node",
    "full_sync",
    "health_check",
    "outcome",
    "partial_sync",
    "service_outcome",
    "sort_transaction",
]
