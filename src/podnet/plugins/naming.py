"""The names plugins give host-side interfaces, reproduced from their sources.

- Calico (libcalico-go ``names.VethNameForWorkload`` / the CNI plugin): ``cali`` + the first 11
  hex digits of sha1("<namespace>.<pod>"); 15 characters, the kernel's IFNAMSIZ limit.
- AWS VPC CNI (``networkutils.GeneratePodHostVethName``): the same hash with prefix ``eni`` —
  deliberately, "in a way that aligns with the value expected by Calico" (its comment).
- Cilium (``connector.Endpoint2IfName``): ``lxc`` + the first 12 hex digits of sha256 of the
  endpoint ID, which the CNI plugin sets to the sandbox's container ID.
- The bridge plugin (flannel's delegate; containernetworking ``ip.RandomVethName``): ``veth`` +
  4 random bytes in hex. Random upstream; podnet derives the 4 bytes from the sandbox ID so that
  the same pod always gets the same name.

A pod has no container runtime here, so its sandbox (pause container) ID is a deterministic
64-hex-digit stand-in: sha256 of ``<namespace>/<pod>``.
"""

from __future__ import annotations

import hashlib

__all__ = ["bridge_veth_name", "calico_veth_name", "cilium_lxc_name", "eni_veth_name", "sandbox_id"]


def _workload_hash(namespace: str, pod: str) -> str:
    return hashlib.sha1(f"{namespace}.{pod}".encode()).hexdigest()[:11]


def calico_veth_name(namespace: str, pod: str, prefix: str = "cali") -> str:
    return prefix + _workload_hash(namespace, pod)


def eni_veth_name(namespace: str, pod: str, prefix: str = "eni") -> str:
    return prefix + _workload_hash(namespace, pod)


def sandbox_id(namespace: str, pod: str) -> str:
    """The pod sandbox's container ID (what CNI receives as CNI_CONTAINERID)."""
    return hashlib.sha256(f"{namespace}/{pod}".encode()).hexdigest()


def cilium_lxc_name(namespace: str, pod: str) -> str:
    # IFNAMSIZ (16) - len("tmp") - 1 = 12 hex digits.
    return "lxc" + hashlib.sha256(sandbox_id(namespace, pod).encode()).hexdigest()[:12]


def bridge_veth_name(namespace: str, pod: str) -> str:
    return "veth" + sandbox_id(namespace, pod)[:8]
