"""The 3-node example the plugin tests share, and helpers to read plans.

kind's layout: ``control-plane`` (172.18.0.2, tainted: runs none of the example's pods),
``worker`` (172.18.0.3) and ``worker2`` (172.18.0.4) on one docker network 172.18.0.0/16 with
the gateway 172.18.0.1. The example runs a Deployment ``demo/web`` (4 replicas: two per worker)
and a pod ``demo/db`` pinned to ``worker``; ``systemObjects: false`` keeps the cluster to those.

The other ``test_plugins_*`` modules import from here; the tests below check the example itself.
"""

from __future__ import annotations

from typing import Any

import yaml

from podnet.api.loader import parse_text
from podnet.cluster.admission import admit
from podnet.cluster.config import DEFAULT, parse_config
from podnet.cluster.state import ClusterState
from podnet.plugins import build_plan
from podnet.plugins.plan import NetworkPlan, NodePlan, PodPlan, Route

APP = """\
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
spec:
  replicas: 4
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata:
  name: db
  namespace: demo
  labels: {app: db}
spec:
  nodeName: worker
  containers:
  - name: db
    image: postgres
    ports: [{containerPort: 5432}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
"""

NODE_IPS = {"control-plane": "172.18.0.2", "worker": "172.18.0.3", "worker2": "172.18.0.4"}


def cluster(name: str, mode: str = "", *, nodes: list[dict[str, Any]] | None = None, mtu: int | None = None,
            extra: str = "", **options: Any) -> ClusterState:
    """The example under plugin ``name``/``mode`` (with plugin options), optionally with its own
    ``nodes:`` list and more manifests."""
    plugin: dict[str, Any] = {"name": name, **options}
    if mode:
        plugin["mode"] = mode
    if mtu is not None:
        plugin["mtu"] = mtu
    doc: dict[str, Any] = {"plugin": plugin, "systemObjects": False}
    if nodes is not None:
        doc["nodes"] = nodes
    config = parse_config(doc, DEFAULT)
    text = APP + ("---\n" + extra if extra else "")
    return admit(parse_text(text, "example.yaml"), config).state


def plan_of(name: str, mode: str = "", **kw: Any) -> NetworkPlan:
    return build_plan(cluster(name, mode, **kw))


#: Two subnets joined by the router: control-plane and worker on 172.18.0.0/24, worker2 alone on
#: 172.19.0.0/24.
TWO_SUBNETS = [
    {"role": "control-plane", "subnet": "172.18.0.0/24"},
    {"subnet": "172.18.0.0/24"},
    {"subnet": "172.19.0.0/24"},
]


def routes(node: NodePlan) -> list[str]:
    return [r.text() for r in node.routes]


def route_to(node: NodePlan, dst: str) -> Route:
    found = [r for r in node.routes if r.dst == dst]
    assert len(found) == 1, (dst, routes(node))
    return found[0]


def pods_on(plan: NetworkPlan, node: str) -> list[PodPlan]:
    return list(plan.pods_on(node))


def pod(plan: NetworkPlan, node: str, index: int = 0) -> PodPlan:
    return pods_on(plan, node)[index]


def web_pods(plan: NetworkPlan, node: str) -> list[PodPlan]:
    return [p for p in pods_on(plan, node) if p.name.startswith("demo/web-")]


def as_yaml(doc: Any) -> str:
    return yaml.safe_dump(doc)


# ---------------------------------------------------------------------------- the example


def test_example_places_pods_on_both_workers() -> None:
    plan = plan_of("flannel")
    assert plan.node_names == ("control-plane", "worker", "worker2")
    assert {n: plan.node(n).internal_ip for n in plan.node_names} == NODE_IPS
    assert pods_on(plan, "control-plane") == []
    assert len(web_pods(plan, "worker")) == 2 and len(web_pods(plan, "worker2")) == 2
    assert "demo/db" in [p.name for p in pods_on(plan, "worker")]


def test_two_subnets_layout() -> None:
    plan = plan_of("flannel", nodes=TWO_SUBNETS)
    assert plan.underlay.routed
    assert [(i.name, i.address) for i in plan.underlay.interfaces] == [
        ("eth0", "172.18.0.1/24"), ("eth1", "172.19.0.1/24")]
    assert plan.node("worker2").internal_ip == "172.19.0.2"
    assert routes(plan.node("worker2"))[0] == "default via 172.19.0.1 dev eth0"
