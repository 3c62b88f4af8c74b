"""What each network plugin really enforces of the NetworkPolicy API.

``policy why`` and ``policy matrix`` answer what networking.k8s.io/v1 specifies. A cluster only
gets that if its plugin enforces it, and each plugin does so in its own way:

- **flannel** enforces nothing: it is a pure connectivity plugin (the usual pairing is
  "Canal": flannel for the network, Calico for policy). Every policy is accepted by the API
  server and has no effect at all.
- **calico** enforces the API as specified (Felix programs per-endpoint chains much like the
  ruleset :mod:`podnet.policy.nftables` compiles).
- **cilium** enforces it with identities: a pod or node is matched by its security identity,
  never by its address, so an ``ipBlock`` only ever matches addresses *outside* the cluster
  ("world"). An ipBlock that covers pod or node addresses does not allow traffic from those
  pods or nodes (Cilium's documented difference; its ``policy-cidr-match-mode: nodes`` option
  relaxes it for nodes only).
- **host** (podnet's plain routed plugin) enforces nothing either.

:func:`as_enforced` gives the index that answers with what the plugin really lets through;
:func:`enforcement_note` the sentence the CLI prints under its text output when that differs
from the API's answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from podnet.policy.index import Mode, PolicyIndex


@dataclass(frozen=True, slots=True)
class Enforcement:
    """How ``plugin`` enforces NetworkPolicy: the index mode to use, and what to tell the user."""

    plugin: str
    mode: Mode
    enforces: bool
    note: str

    @property
    def differs_from_api(self) -> bool:
        return self.mode != "api"


_ENFORCEMENT: dict[str, Enforcement] = {
    "flannel": Enforcement(
        "flannel",
        "none",
        False,
        "flannel does not enforce NetworkPolicy: every connection is allowed whatever the policies "
        "say (this output is what the API specifies; use --as-enforced for what flannel lets through, "
        "or a plugin that enforces policy, such as calico or cilium)",
    ),
    "calico": Enforcement(
        "calico",
        "api",
        True,
        "",
    ),
    "cilium": Enforcement(
        "cilium",
        "cilium",
        True,
        "cilium enforces NetworkPolicy by identity: an ipBlock never matches the addresses of pods or "
        "nodes, only addresses outside the cluster, so ipBlock rules covering cluster addresses allow "
        "less than the API specifies (use --as-enforced for what cilium lets through)",
    ),
    "host": Enforcement(
        "host",
        "none",
        False,
        "the host plugin does not enforce NetworkPolicy: every connection is allowed whatever the "
        "policies say (use --as-enforced for what it lets through)",
    ),
}


def enforcement_of(plugin: str) -> Enforcement:
    """How ``plugin`` (flannel, calico, cilium, host) enforces policy; unknown plugins: not at all."""
    known = _ENFORCEMENT.get(plugin)
    if known is not None:
        return known
    return Enforcement(plugin, "none", False,
                       f"the {plugin} plugin is not known to enforce NetworkPolicy; assuming it does not")


def enforcement_note(plugin: str) -> str | None:
    """The note for the CLI's text output, or None when the plugin enforces the API as written."""
    e = enforcement_of(plugin)
    return e.note or None


def as_enforced(index: PolicyIndex) -> PolicyIndex:
    """The index that answers with what the cluster's plugin really enforces."""
    return index.with_mode(enforcement_of(index.plugin).mode)


__all__ = ["Enforcement", "as_enforced", "enforcement_note", "enforcement_of"]
