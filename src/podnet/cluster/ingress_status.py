"""Ingress admission defaulting and the ingress controller's status updates.

Why: ``kubectl get ingress`` shows an ADDRESS only because the ingress controller writes the
address it is reachable at into ``status.loadBalancer``; and an Ingress without a class is served
only because the ``DefaultIngressClass`` admission plugin filled in the default class. Users (and
podnet's ingress router and packet walk) rely on both.

Behaviour reproduced (re-implemented, not copied):

* ``plugin/pkg/admission/network/defaultingressclass``: on create, an Ingress with neither
  ``spec.ingressClassName`` nor the legacy ``kubernetes.io/ingress.class`` annotation gets the
  class annotated ``ingressclass.kubernetes.io/is-default-class: "true"``; with several, the
  newest by creationTimestamp, ties broken by name.
* ingress-nginx (``--publish-service=ingress-nginx/ingress-nginx-controller``,
  ``--controller-class=k8s.io/ingress-nginx``, ``--ingress-class=nginx``): it handles Ingresses
  whose class names an IngressClass with its controller, or whose legacy annotation is ``nginx``,
  and publishes its Service's address — for a LoadBalancer Service each
  ``status.loadBalancer.ingress`` ip (or hostname), plus its externalIPs; for ClusterIP the
  clusterIP; for NodePort its externalIPs or the clusterIP; for ExternalName the external name —
  sorted, as ``statusAddressFromService`` does. While the Service has no address yet (pending),
  the status stays empty.

Ingresses that no running controller handles keep the status they were given (empty unless a
snapshot of a real cluster carried one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from podnet.api.core import LoadBalancerIngress, Service
from podnet.api.meta import Resource, creation_time
from podnet.api.networking import (
    LEGACY_CLASS_ANNOTATION,
    Ingress,
    IngressClass,
    IngressLoadBalancerStatus,
    IngressStatus,
)
from podnet.cluster.config import ClusterConfig
from podnet.cluster.system import (
    INGRESS_NGINX_NAMESPACE,
    INGRESS_NGINX_SERVICE,
    NGINX_CONTROLLER_CLASS,
)

__all__ = ["default_class", "publish_addresses", "update"]

#: ingress-nginx's ``--ingress-class`` value, matched against the legacy annotation.
NGINX_CLASS_NAME = "nginx"

def default_class(classes: Sequence[IngressClass]) -> IngressClass | None:
    """The class the admission plugin defaults to: the newest default-annotated one."""
    defaults = [c for c in classes if c.is_default]
    if not defaults:
        return None
    defaults.sort(key=lambda c: c.metadata.name)
    defaults.sort(key=creation_time, reverse=True)
    return defaults[0]


def publish_addresses(svc: Service) -> tuple[LoadBalancerIngress, ...]:
    """ingress-nginx's ``statusAddressFromService``, sorted as its status sync sorts them."""
    spec = svc.spec
    addrs: list[LoadBalancerIngress] = []
    if spec.type == "ExternalName":
        addrs = [LoadBalancerIngress(hostname=spec.external_name)]
    elif spec.type == "ClusterIP":
        addrs = [LoadBalancerIngress(ip=spec.cluster_ip)] if spec.cluster_ip else []
    elif spec.type == "NodePort":
        if spec.external_ips:
            addrs = [LoadBalancerIngress(ip=ip) for ip in spec.external_ips]
        elif spec.cluster_ip:
            addrs = [LoadBalancerIngress(ip=spec.cluster_ip)]
    elif spec.type == "LoadBalancer":
        for e in svc.status.load_balancer.ingress:
            if e.ip:
                addrs.append(LoadBalancerIngress(ip=e.ip))
            elif e.hostname:
                addrs.append(LoadBalancerIngress(hostname=e.hostname))
        seen = {a.ip for a in addrs}
        for ip in spec.external_ips:
            if ip not in seen:
                addrs.append(LoadBalancerIngress(ip=ip))
                seen.add(ip)
    addrs.sort(key=lambda a: (a.ip, a.hostname))
    return tuple(addrs)


def update(
    ingresses: list[Ingress],
    objects: list[Resource],
    config: ClusterConfig,
) -> list[Ingress]:
    """Ingresses with their class defaulted and, where ingress-nginx serves them, its address.

    ``objects`` is the whole cluster (IngressClasses and the controller's Service are looked up
    in it). ``config`` is not consulted: whether a controller runs is read from the objects, so
    a user-installed ingress-nginx behaves like the addon.
    """
    del config
    classes = [o for o in objects if isinstance(o, IngressClass)]
    publish: Service | None = None
    for o in objects:
        if (
            isinstance(o, Service)
            and o.metadata.namespace == INGRESS_NGINX_NAMESPACE
            and o.metadata.name == INGRESS_NGINX_SERVICE
        ):
            publish = o
            break
    default = default_class(classes)
    nginx_classes = {c.metadata.name for c in classes if c.spec.controller == NGINX_CONTROLLER_CLASS}
    addresses = publish_addresses(publish) if publish is not None else ()
    out: list[Ingress] = []
    for ing in ingresses:
        legacy = ing.metadata.annotations.get(LEGACY_CLASS_ANNOTATION)
        if ing.spec.ingress_class_name is None and legacy is None and default is not None:
            ing = replace(ing, spec=replace(ing.spec, ingress_class_name=default.metadata.name))
        if legacy is not None:
            handled = legacy == NGINX_CLASS_NAME
        else:
            handled = ing.spec.ingress_class_name in nginx_classes
        if handled and publish is not None:
            ing = replace(
                ing,
                status=IngressStatus(load_balancer=IngressLoadBalancerStatus(ingress=addresses)),
            )
        out.append(ing)
    return out
