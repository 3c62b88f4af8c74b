"""The objects a fresh kubeadm (kind) cluster has before the user applies anything.

Why they are modelled: a user's pods resolve names through ``kube-system/kube-dns``, reach the API
server through ``default/kubernetes``, and are reached from outside through the ingress
controller's LoadBalancer Service. Without these objects the DNS, proxy and ingress layers would
have nothing to answer with, and ``podnet get -A`` would not look like ``kubectl get -A`` on a kind
cluster.

Sources (behaviour and manifests re-created, not copied):

* kubeadm ``cmd/kubeadm/app/phases/addons/dns/manifests.go`` — the kube-dns Service (ClusterIP =
  index 10 of the first service CIDR, ``GetDNSIP``), the CoreDNS Deployment and the default
  Corefile (the ``cache 30 { disable success/denial <domain> }`` block is kubeadm >= 1.32).
* ``pkg/controlplane/controller/kubernetesservice`` — the ``default/kubernetes`` Service created by
  the API server itself (first address of the service CIDR, SingleStack, 443 -> 6443 ``https``).
* ``pkg/controlplane/reconcilers/endpointsadapter.go`` — its EndpointSlice ``kubernetes``: labelled
  only ``kubernetes.io/service-name`` (no managed-by label, no owner: the API server's endpoint
  reconciler owns it, not the EndpointSlice controller), endpoints ready, port ``https`` 6443.
* ingress-nginx ``deploy/static/provider/cloud/deploy.yaml`` — the controller Deployment, its
  ``LoadBalancer`` Service (``externalTrafficPolicy: Local``), the admission Service and the
  ``nginx`` IngressClass, which podnet marks default so that class-less Ingresses are served.

Where kind differs from what a scheduler would decide on a finished cluster: kind creates CoreDNS
before any worker joins, so both replicas land on the control-plane node. podnet reproduces that
outcome with a required node affinity for the control-plane node (the first node when none has
the role), next to kubeadm's own toleration of the control-plane taint.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from podnet.api.core import ConfigMap, Namespace, Node, Service, ip_family
from podnet.api.defaults import apply_defaults
from podnet.api.discovery import SERVICE_NAME_LABEL, EndpointSlice
from podnet.api.meta import Resource
from podnet.api.networking import DEFAULT_CLASS_ANNOTATION, IngressClass
from podnet.api.workloads import Deployment
from podnet.cluster.config import ClusterConfig

__all__ = [
    "APISERVER_PORT",
    "COREDNS_IMAGE",
    "DNS_SERVICE_INDEX",
    "INGRESS_NGINX_CONTROLLER",
    "INGRESS_NGINX_NAMESPACE",
    "INGRESS_NGINX_SERVICE",
    "NGINX_CONTROLLER_CLASS",
    "SYSTEM_NAMESPACES",
    "apiserver_ip",
    "corefile",
    "dns_ip",
    "dns_node",
    "system_objects",
]

#: The namespaces ``kubeadm init`` leaves behind.
SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
#: kube-apiserver's ``--secure-port`` under kubeadm; the ``kubernetes`` Service targets it.
APISERVER_PORT = 6443
#: kubeadm's ``GetDNSIP``: the tenth address of the first service CIDR (10.96.0.10).
DNS_SERVICE_INDEX = 10
#: The CoreDNS image kubeadm 1.33 deploys.
COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.12.0"

INGRESS_NGINX_NAMESPACE = "ingress-nginx"
INGRESS_NGINX_SERVICE = "ingress-nginx-controller"
INGRESS_NGINX_CONTROLLER = "ingress-nginx-controller"
#: The ``spec.controller`` of ingress-nginx's IngressClass (its ``--controller-class``).
NGINX_CONTROLLER_CLASS = "k8s.io/ingress-nginx"
_INGRESS_NGINX_VERSION = "1.13.2"
_INGRESS_NGINX_IMAGE = f"registry.k8s.io/ingress-nginx/controller:v{_INGRESS_NGINX_VERSION}"

_CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"
_HOSTNAME_LABEL = "kubernetes.io/hostname"


# ------------------------------------------------------------------------------------- addresses


def _nth_address(cidr: str, n: int) -> str:
    """kubeadm's ``GetIndexedIP``: the address ``n`` past the network address of ``cidr``."""
    network = ipaddress.ip_network(cidr, strict=False)
    return str(network.network_address + n)


def apiserver_ip(config: ClusterConfig) -> str:
    """ClusterIP of ``default/kubernetes``: the first address of the primary service CIDR."""
    return _nth_address(config.service_subnets[0], 1)


def dns_ip(config: ClusterConfig) -> str:
    """ClusterIP of ``kube-system/kube-dns``: the tenth address of the primary service CIDR."""
    return _nth_address(config.service_subnets[0], DNS_SERVICE_INDEX)


def dns_node(nodes: tuple[Node, ...]) -> Node | None:
    """Where kind's CoreDNS pods (and the API server) run: the first control-plane node, or the
    first node when none carries the control-plane role."""
    for node in nodes:
        if node.is_control_plane:
            return node
    return nodes[0] if nodes else None


def _control_plane_nodes(nodes: tuple[Node, ...]) -> list[Node]:
    cps = [n for n in nodes if n.is_control_plane]
    if cps:
        return cps
    return [nodes[0]] if nodes else []


# ------------------------------------------------------------------------------------- Corefile


def corefile(cluster_domain: str = "cluster.local") -> str:
    """kubeadm's default Corefile with the cluster domain substituted.

    This is the text ``kubectl -n kube-system get cm coredns -o yaml`` shows on a kubeadm 1.32+
    cluster, byte for byte (two-space Go-template indentation of the directive bodies included),
    because the DNS layer parses it and users diff it against a real cluster's.
    """
    d = cluster_domain
    return (
        ".:53 {\n"
        "    errors\n"
        "    health {\n"
        "       lameduck 5s\n"
        "    }\n"
        "    ready\n"
        f"    kubernetes {d} in-addr.arpa ip6.arpa {{\n"
        "       pods insecure\n"
        "       fallthrough in-addr.arpa ip6.arpa\n"
        "       ttl 30\n"
        "    }\n"
        "    prometheus :9153\n"
        "    forward . /etc/resolv.conf {\n"
        "       max_concurrent 1000\n"
        "    }\n"
        "    cache 30 {\n"
        f"       disable success {d}\n"
        f"       disable denial {d}\n"
        "    }\n"
        "    loop\n"
        "    reload\n"
        "    loadbalance\n"
        "}\n"
    )


# ------------------------------------------------------------------------------------- builders


def _ns(name: str, labels: Mapping[str, str] | None = None) -> Namespace:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = dict(labels)
    return Namespace.from_dict({"metadata": meta})


def _kubernetes_service(config: ClusterConfig) -> Service:
    ip = apiserver_ip(config)
    return Service.from_dict(
        {
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": ip,
                "clusterIPs": [ip],
                "ipFamilies": [ip_family(ip)],
                "ipFamilyPolicy": "SingleStack",
                "ports": [
                    {"name": "https", "port": 443, "protocol": "TCP", "targetPort": APISERVER_PORT}
                ],
                "sessionAffinity": "None",
            },
        }
    )


def _kubernetes_slice(config: ClusterConfig, nodes: tuple[Node, ...]) -> EndpointSlice:
    """The API server's own slice: every control-plane node's address of the service family."""
    family = ip_family(apiserver_ip(config))
    ips: set[str] = set()
    for node in _control_plane_nodes(nodes):
        for ip in node.internal_ips:
            if ip_family(ip) == family:
                ips.add(ip)
                break
    endpoints = [{"addresses": [ip], "conditions": {"ready": True}} for ip in sorted(ips)]
    return EndpointSlice.from_dict(
        {
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {SERVICE_NAME_LABEL: "kubernetes"},
            },
            "addressType": family,
            "endpoints": endpoints,
            "ports": [{"name": "https", "port": APISERVER_PORT, "protocol": "TCP"}],
        }
    )


def _kube_dns_service(config: ClusterConfig) -> Service:
    return Service.from_dict(
        {
            "metadata": {
                "name": "kube-dns",
                "namespace": "kube-system",
                "labels": {
                    "k8s-app": "kube-dns",
                    "kubernetes.io/cluster-service": "true",
                    "kubernetes.io/name": "CoreDNS",
                },
                "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
            },
            "spec": {
                "clusterIP": dns_ip(config),
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
                ],
                "selector": {"k8s-app": "kube-dns"},
            },
        }
    )


def _coredns_deployment(nodes: tuple[Node, ...]) -> Deployment:
    affinity: dict[str, Any] = {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "labelSelector": {
                            "matchExpressions": [
                                {"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}
                            ]
                        },
                        "topologyKey": _HOSTNAME_LABEL,
                    },
                }
            ]
        }
    }
    target = dns_node(nodes)
    if target is not None:
        # podnet's addition (see the module docstring): pin to where kind's CoreDNS lands.
        hostname = target.labels.get(_HOSTNAME_LABEL, target.name)
        affinity["nodeAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": _HOSTNAME_LABEL, "operator": "In", "values": [hostname]}
                        ]
                    }
                ]
            }
        }
    return Deployment.from_dict(
        {
            "metadata": {
                "name": "coredns",
                "namespace": "kube-system",
                "labels": {"k8s-app": "kube-dns"},
            },
            "spec": {
                "replicas": 2,
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1},
                },
                "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                "template": {
                    "metadata": {"labels": {"k8s-app": "kube-dns"}},
                    "spec": {
                        "priorityClassName": "system-cluster-critical",
                        "serviceAccountName": "coredns",
                        "affinity": affinity,
                        "tolerations": [
                            {"key": "CriticalAddonsOnly", "operator": "Exists"},
                            {"key": _CONTROL_PLANE_TAINT, "effect": "NoSchedule"},
                        ],
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "containers": [
                            {
                                "name": "coredns",
                                "image": COREDNS_IMAGE,
                                "imagePullPolicy": "IfNotPresent",
                                "resources": {
                                    "limits": {"memory": "170Mi"},
                                    "requests": {"cpu": "100m", "memory": "70Mi"},
                                },
                                "args": ["-conf", "/etc/coredns/Corefile"],
                                "volumeMounts": [
                                    {
                                        "name": "config-volume",
                                        "mountPath": "/etc/coredns",
                                        "readOnly": True,
                                    }
                                ],
                                "ports": [
                                    {"containerPort": 53, "name": "dns", "protocol": "UDP"},
                                    {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                                    {"containerPort": 9153, "name": "metrics", "protocol": "TCP"},
                                    {
                                        "containerPort": 8080,
                                        "name": "liveness-probe",
                                        "protocol": "TCP",
                                    },
                                    {
                                        "containerPort": 8181,
                                        "name": "readiness-probe",
                                        "protocol": "TCP",
                                    },
                                ],
                                "livenessProbe": {
                                    "httpGet": {
                                        "path": "/health",
                                        "port": "liveness-probe",
                                        "scheme": "HTTP",
                                    },
                                    "initialDelaySeconds": 60,
                                    "timeoutSeconds": 5,
                                    "successThreshold": 1,
                                    "failureThreshold": 5,
                                },
                                "readinessProbe": {
                                    "httpGet": {
                                        "path": "/ready",
                                        "port": "readiness-probe",
                                        "scheme": "HTTP",
                                    }
                                },
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "capabilities": {
                                        "add": ["NET_BIND_SERVICE"],
                                        "drop": ["ALL"],
                                    },
                                    "readOnlyRootFilesystem": True,
                                },
                            }
                        ],
                        "dnsPolicy": "Default",
                        "volumes": [
                            {
                                "name": "config-volume",
                                "configMap": {
                                    "name": "coredns",
                                    "items": [{"key": "Corefile", "path": "Corefile"}],
                                },
                            }
                        ],
                    },
                },
            },
        }
    )


def _coredns_configmap(config: ClusterConfig) -> ConfigMap:
    return ConfigMap.from_dict(
        {
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": corefile(config.cluster_domain)},
        }
    )


def _nginx_labels(component: str = "controller", *, part_of: bool = True) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/instance": "ingress-nginx",
        "app.kubernetes.io/name": "ingress-nginx",
    }
    if part_of:
        labels["app.kubernetes.io/part-of"] = "ingress-nginx"
        labels["app.kubernetes.io/version"] = _INGRESS_NGINX_VERSION
    return labels


_NGINX_SELECTOR = {
    "app.kubernetes.io/component": "controller",
    "app.kubernetes.io/instance": "ingress-nginx",
    "app.kubernetes.io/name": "ingress-nginx",
}


def _ingress_nginx() -> list[Resource]:
    ns = INGRESS_NGINX_NAMESPACE
    namespace = _ns(
        ns, {"app.kubernetes.io/instance": "ingress-nginx", "app.kubernetes.io/name": "ingress-nginx"}
    )
    configmap = ConfigMap.from_dict(
        {
            "metadata": {"name": INGRESS_NGINX_CONTROLLER, "namespace": ns, "labels": _nginx_labels()},
            "data": {},
        }
    )
    service = Service.from_dict(
        {
            "metadata": {"name": INGRESS_NGINX_SERVICE, "namespace": ns, "labels": _nginx_labels()},
            "spec": {
                "type": "LoadBalancer",
                "externalTrafficPolicy": "Local",
                "ipFamilyPolicy": "SingleStack",
                "ports": [
                    {
                        "appProtocol": "http",
                        "name": "http",
                        "port": 80,
                        "protocol": "TCP",
                        "targetPort": "http",
                    },
                    {
                        "appProtocol": "https",
                        "name": "https",
                        "port": 443,
                        "protocol": "TCP",
                        "targetPort": "https",
                    },
                ],
                "selector": dict(_NGINX_SELECTOR),
            },
        }
    )
    admission = Service.from_dict(
        {
            "metadata": {
                "name": f"{INGRESS_NGINX_SERVICE}-admission",
                "namespace": ns,
                "labels": _nginx_labels(),
            },
            "spec": {
                "type": "ClusterIP",
                "ports": [
                    {
                        "appProtocol": "https",
                        "name": "https-webhook",
                        "port": 443,
                        "targetPort": "webhook",
                    }
                ],
                "selector": dict(_NGINX_SELECTOR),
            },
        }
    )
    probe = {
        "failureThreshold": 3,
        "httpGet": {"path": "/healthz", "port": 10254, "scheme": "HTTP"},
        "initialDelaySeconds": 10,
        "periodSeconds": 10,
        "successThreshold": 1,
        "timeoutSeconds": 1,
    }
    deployment = Deployment.from_dict(
        {
            "metadata": {
                "name": INGRESS_NGINX_CONTROLLER,
                "namespace": ns,
                "labels": _nginx_labels(),
            },
            "spec": {
                "minReadySeconds": 0,
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": dict(_NGINX_SELECTOR)},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                },
                "template": {
                    "metadata": {"labels": _nginx_labels()},
                    "spec": {
                        "containers": [
                            {
                                "name": "controller",
                                "image": _INGRESS_NGINX_IMAGE,
                                "imagePullPolicy": "IfNotPresent",
                                "args": [
                                    "/nginx-ingress-controller",
                                    "--publish-service=$(POD_NAMESPACE)/ingress-nginx-controller",
                                    "--election-id=ingress-nginx-leader",
                                    f"--controller-class={NGINX_CONTROLLER_CLASS}",
                                    "--ingress-class=nginx",
                                    "--configmap=$(POD_NAMESPACE)/ingress-nginx-controller",
                                    "--validating-webhook=:8443",
                                    "--validating-webhook-certificate=/usr/local/certificates/cert",
                                    "--validating-webhook-key=/usr/local/certificates/key",
                                ],
                                "env": [
                                    {
                                        "name": "POD_NAME",
                                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                                    },
                                    {
                                        "name": "POD_NAMESPACE",
                                        "valueFrom": {
                                            "fieldRef": {"fieldPath": "metadata.namespace"}
                                        },
                                    },
                                    {"name": "LD_PRELOAD", "value": "/usr/local/lib/libmimalloc.so"},
                                ],
                                "lifecycle": {"preStop": {"exec": {"command": ["/wait-shutdown"]}}},
                                "livenessProbe": {**probe, "failureThreshold": 5},
                                # upstream's 10 s initial delay waits for nginx to start;
                                # podnet's controller serves at once, and under podnet up the
                                # delay (run as kubelet runs it) would keep it out of its
                                # Service for 10 s after every start
                                "readinessProbe": {k: v for k, v in probe.items()
                                                   if k != "initialDelaySeconds"},
                                "ports": [
                                    {"containerPort": 80, "name": "http", "protocol": "TCP"},
                                    {"containerPort": 443, "name": "https", "protocol": "TCP"},
                                    {"containerPort": 8443, "name": "webhook", "protocol": "TCP"},
                                ],
                                "resources": {"requests": {"cpu": "100m", "memory": "90Mi"}},
                                "volumeMounts": [
                                    {
                                        "mountPath": "/usr/local/certificates/",
                                        "name": "webhook-cert",
                                        "readOnly": True,
                                    }
                                ],
                            }
                        ],
                        "dnsPolicy": "ClusterFirst",
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "serviceAccountName": "ingress-nginx",
                        "terminationGracePeriodSeconds": 300,
                        "volumes": [
                            {
                                "name": "webhook-cert",
                                "secret": {"secretName": "ingress-nginx-admission"},
                            }
                        ],
                    },
                },
            },
        }
    )
    ingress_class = IngressClass.from_dict(
        {
            "metadata": {
                "name": "nginx",
                "labels": _nginx_labels(),
                "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
            },
            "spec": {"controller": NGINX_CONTROLLER_CLASS},
        }
    )
    return [namespace, configmap, service, admission, deployment, ingress_class]


# ------------------------------------------------------------------------------------- entry


def system_objects(config: ClusterConfig, nodes: tuple[Node, ...]) -> list[Resource]:
    """Every object a kubeadm/kind cluster has before anything is applied, API-defaulted.

    ``nodes`` decide where the API server (the ``kubernetes`` endpoints) and CoreDNS run. The
    result is deterministic: names, uids (derived from identity) and addresses depend only on
    the config and the nodes. ``config.addons`` can leave out CoreDNS (``dns``) and the ingress
    controller (``ingressController``); whether system objects exist at all
    (``config.system_objects``) is the caller's decision.
    """
    objects: list[Resource] = [_ns(name) for name in SYSTEM_NAMESPACES]
    objects.append(_kubernetes_service(config))
    objects.append(_kubernetes_slice(config, nodes))
    if config.addons.dns:
        objects.append(_coredns_configmap(config))
        objects.append(_kube_dns_service(config))
        objects.append(_coredns_deployment(nodes))
    if config.addons.ingress_controller:
        objects.extend(_ingress_nginx())
    return [apply_defaults(o) for o in objects]
