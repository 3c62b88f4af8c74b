"""NetworkPolicy: verdicts, the reachability matrix, per-node nftables (pure, sans-I/O).

Build a :class:`PolicyIndex` once from a ClusterState, then ask it questions:

    index = PolicyIndex.build(state)
    verdict(index, "x/b", "x/a", 80, "TCP")        # may x/b open TCP 80 on x/a, and why
    reachability(index, port=80).to_text()         # upstream e2e-style truth table
    compile_node(index, "worker").text             # the node's `nft -f` ruleset
    as_enforced(index)                             # what the cluster's plugin really enforces
"""

from podnet.policy.enforcement import Enforcement, as_enforced, enforcement_note, enforcement_of
from podnet.policy.engine import DirectionVerdict, RuleRef, Verdict, verdict
from podnet.policy.index import Endpoint, PolicyIndex, UnknownEndpoint
from podnet.policy.matrix import ReachabilityMatrix, reachability
from podnet.policy.nftables import PolicyRuleset, compile_node, veth_name

__all__ = [
    "DirectionVerdict",
    "Endpoint",
    "Enforcement",
    "PolicyIndex",
    "PolicyRuleset",
    "ReachabilityMatrix",
    "RuleRef",
    "UnknownEndpoint",
    "Verdict",
    "as_enforced",
    "compile_node",
    "enforcement_note",
    "enforcement_of",
    "reachability",
    "verdict",
    "veth_name",
]
