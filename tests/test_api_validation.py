"""Validation of every modelled kind, against the API server's own rules and wording.

Expected messages are built from upstream's source text (kubernetes/kubernetes unless noted);
each group cites where its rules and strings come from:

  [core]   pkg/apis/core/validation/validation.go
  [apps]   pkg/apis/apps/validation/validation.go
  [batch]  pkg/apis/batch/validation/validation.go
  [net]    pkg/apis/networking/validation/validation.go
  [disc]   pkg/apis/discovery/validation/validation.go
  [meta]   staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go
  [sel]    staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go
  [util]   staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go
  [svcreg] pkg/registry/core/service/storage (beginCreate: NormalizeClusterIPs, allocator
           pre-validation with ValidateServiceClusterIPsRelatedFields, before validation)
  [cron]   github.com/robfig/cron/v3 parser.go and parser_test.go (TestRange, TestParseScheduleErrors)
  [b64]    go/src/encoding/base64/base64_test.go (TestDecodeCorrupt)

Every object reaches validation API-defaulted, as admission gives it: through apply_defaults.
"""

from __future__ import annotations

import textwrap
import zoneinfo
from pathlib import Path

import pytest

from podnet.api.defaults import apply_defaults
from podnet.api.loader import Loaded, parse_text, read_paths
from podnet.api.meta import Resource
from podnet.api.validation import validate
from podnet.api.validation_apps import cron_parse_error
from podnet.api.validation_core import go_base64_decode

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "shop"

DNS1123_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_LABEL = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
WILDCARD = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which "
    "must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric "
    "character (e.g. '*.example.com', regex used for validation is "
    "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
PORT_RANGE = "must be between 1 and 65535, inclusive"
IP_INVALID = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
HAVE_TZDATA = bool(zoneinfo.available_timezones())
CIDR_INVALID = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


def load(text: str) -> Resource:
    """One manifest, decoded and API-defaulted."""
    result = parse_text(textwrap.dedent(text), "t.yaml")
    assert not result.errors, result.errors
    (item,) = result.objects
    return apply_defaults(item.obj)


def errors(text: str) -> list[str]:
    return validate(load(text))


def bodies(text: str) -> list[str]:
    """The messages without the ``The Kind "name" is invalid: `` head."""
    out = []
    for message in errors(text):
        head, sep, body = message.partition(" is invalid: ")
        assert sep and head.startswith("The "), message
        out.append(body)
    return out


# ------------------------------------------------------------------------------ the corpus


def _shop_objects() -> list[Loaded]:
    result = read_paths([str(EXAMPLES)])
    assert not result.errors
    assert result.objects
    return result.objects


@pytest.mark.parametrize(
    "item", _shop_objects(), ids=lambda i: f"{i.source}:{i.obj.kind}/{i.obj.name}"
)
def test_every_shop_object_is_valid(item: Loaded) -> None:
    assert validate(apply_defaults(item.obj)) == []


def test_kinds_not_modelled_are_not_validated() -> None:
    assert (
        errors(
            """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: "Not A Valid Name"}
        """
        )
        == []
    )


# ------------------------------------------------------------------------------ message shape


def test_one_complete_kubectl_message_per_error() -> None:
    # The design's example: kubectl's "The <Kind> "<name>" is invalid: <field error>".
    assert errors(
        """
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          ports: [{port: 70000, targetPort: 8080}]
        """
    ) == ['The Service "web" is invalid: spec.ports[0].port: Invalid value: 70000: ' + PORT_RANGE]


def test_group_kinds_use_the_bare_kind_and_identical_messages_are_reported_once() -> None:
    msgs = errors(
        """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          name: np
          labels: {a: "-x", b: "-x"}
        spec: {podSelector: {}}
        """
    )
    # Both values give the same message (the path is metadata.labels): kubectl prints it once.
    assert msgs == [
        f'The NetworkPolicy "np" is invalid: metadata.labels: Invalid value: "-x": {LABEL_VALUE}'
    ]


# ------------------------------------------------------------------------------ metadata [meta]


@pytest.mark.parametrize(
    ("kind_header", "name", "message"),
    [
        # [core] ValidateServiceName = NameIsDNS1035Label
        ("apiVersion: v1\nkind: Service", "1web", DNS1035_LABEL),
        # [core] ValidateNamespaceName = NameIsDNSLabel (dots are refused with their own message)
        ("apiVersion: v1\nkind: Namespace", "a.b", "must not contain dots"),
        # [core] ValidatePodName = NameIsDNSSubdomain
        ("apiVersion: v1\nkind: Pod", "Web", DNS1123_SUBDOMAIN),
        # [apps] ValidateStatefulSetName = NameIsDNSLabel
        ("apiVersion: apps/v1\nkind: StatefulSet", "db.0", "must not contain dots"),
        ("apiVersion: apps/v1\nkind: Deployment", "Web", DNS1123_SUBDOMAIN),
        ("apiVersion: networking.k8s.io/v1\nkind: Ingress", "web_1", DNS1123_SUBDOMAIN),
    ],
)
def test_name_validator_per_kind(kind_header: str, name: str, message: str) -> None:
    obj = load(f"{kind_header}\nmetadata:\n  name: {name!r}\n")
    first = validate(obj)[0]
    assert first.endswith(f'metadata.name: Invalid value: "{name}": {message}')


def test_missing_name_and_namespace() -> None:
    obj = load("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n").with_meta(namespace="")
    assert validate(obj) == [
        'The ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required',
        'The ConfigMap "" is invalid: metadata.namespace: Required value',
    ]


def test_cluster_scoped_objects_ignore_a_namespace() -> None:
    # The API server clears the namespace of cluster-scoped objects before validating
    # (EnsureObjectNamespaceMatchesRequestNamespace); kubectl does not even send it.
    assert errors("apiVersion: v1\nkind: Namespace\nmetadata: {name: ok, namespace: other}\n") == []


def test_generate_name_is_expanded_before_validation() -> None:
    msgs = errors(
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {generateName: "Web-"}
        """
    )
    assert len(msgs) == 2
    assert (
        msgs[0].startswith('The ConfigMap "Web-')
        and 'metadata.generateName: Invalid value: "Web-"' in msgs[0]
    )
    assert "metadata.name: Invalid value:" in msgs[1]
    assert errors("apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: web-}\n") == []


def test_labels_annotations_owner_references_and_finalizers() -> None:
    assert bodies(
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: cm
          labels: {app: "-x-"}
          annotations: {"a b": v}
          ownerReferences:
          - {apiVersion: "", kind: "", name: "", uid: "", controller: true}
          - {apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: u, controller: true}
          finalizers: [example.com/ok, custom, orphan, foregroundDeletion]
        """
    ) == [
        f'metadata.labels: Invalid value: "-x-": {LABEL_VALUE}',
        f'metadata.annotations: Invalid value: "a b": {NAME_PART}',
        'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
        'metadata.ownerReferences.kind: Invalid value: "": must not be empty',
        'metadata.ownerReferences.name: Invalid value: "": must not be empty',
        'metadata.ownerReferences.uid: Invalid value: "": must not be empty',
        'metadata.ownerReferences: Invalid value: [{"apiVersion":"","kind":"","name":"","uid":"",'
        '"controller":true},{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"u",'
        '"controller":true}]: Only one reference can have Controller set to true. Found "true" in '
        "references for / and ReplicaSet/rs",
        'metadata.finalizers: Invalid value: ["example.com/ok","custom","orphan","foregroundDeletion"]: '
        "finalizer orphan and foregroundDeletion cannot be both set",
        'metadata.finalizers[1]: Invalid value: "custom": name is neither a standard finalizer '
        "name nor is it fully qualified",
    ]


# ------------------------------------------------------------------------------ Service [core]

SVC = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
"""


def svc(spec: str) -> list[str]:
    return bodies(SVC + textwrap.indent(textwrap.dedent(spec), "  "))


def test_service_ports() -> None:
    assert svc(
        """
        ports:
        - {name: http, port: 70000}
        - {name: http, port: 80, protocol: ICMP, targetPort: "-x-"}
        - {port: 80, name: "Http", targetPort: 0}
        - {port: 80, name: dup, appProtocol: "bad proto"}
        """
    ) == [
        "spec.ports[0].port: Invalid value: 70000: " + PORT_RANGE,
        # targetPort defaults to port (core/v1 defaults), so it is out of range too.
        "spec.ports[0].targetPort: Invalid value: 70000: " + PORT_RANGE,
        'spec.ports[1].name: Duplicate value: "http"',
        'spec.ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        'spec.ports[1].targetPort: Invalid value: "-x-": must not begin or end with a hyphen',
        f'spec.ports[2].name: Invalid value: "Http": {DNS1123_LABEL}',
        'spec.ports[3].appProtocol: Invalid value: "bad proto": ' + NAME_PART,
        'spec.ports[3]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", '
        "AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, "
        'StrVal:""}, NodePort:0}',
    ]


def test_service_port_names_required_when_several() -> None:
    assert svc("ports: [{port: 80}, {port: 443}]") == [
        "spec.ports[0].name: Required value",
        "spec.ports[1].name: Required value",
    ]


def test_service_needs_ports_unless_headless_or_external_name() -> None:
    assert svc("selector: {app: web}") == ["spec.ports: Required value"]
    assert svc("clusterIP: None\nselector: {app: web}") == []
    assert svc("type: ExternalName\nexternalName: example.com") == []


def test_node_ports_only_for_node_port_and_load_balancer_and_unique() -> None:
    assert svc("ports: [{port: 80, nodePort: 30080}]") == [
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"
    ]
    assert svc(
        """
        type: NodePort
        ports:
        - {name: a, port: 80, nodePort: 30080}
        - {name: b, port: 81, nodePort: 30080}
        - {name: c, port: 81, nodePort: 30080, protocol: UDP}
        """
    ) == ["spec.ports[1].nodePort: Duplicate value: 30080"]


def test_service_type_and_headless_combinations() -> None:
    assert svc("type: Foo\nports: [{port: 80}]") == [
        'spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", '
        '"LoadBalancer", "NodePort"'
    ]
    assert svc("type: LoadBalancer\nclusterIP: None\nports: [{port: 80}]") == [
        "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for LoadBalancer services"
    ]
    assert svc("type: NodePort\nclusterIP: None\nports: [{port: 80}]") == [
        "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"
    ]


def test_external_name_services() -> None:
    assert svc("type: ExternalName") == ["spec.externalName: Required value"]
    # A trailing dot marks a fully qualified name and is allowed.
    assert svc("type: ExternalName\nexternalName: db.example.com.") == []
    assert svc(
        """
        type: ExternalName
        externalName: foo_bar.com
        clusterIP: 10.96.0.5
        ipFamilies: [IPv4]
        ipFamilyPolicy: SingleStack
        """
    ) == [
        "spec.clusterIPs: Forbidden: may not be set for ExternalName services",
        "spec.ipFamilies: Forbidden: may not be set for ExternalName services",
        "spec.ipFamilyPolicy: Forbidden: may not be set for ExternalName services",
        f'spec.externalName: Invalid value: "foo_bar.com": {DNS1123_SUBDOMAIN}',
    ]


def test_cluster_ip_errors_come_alone_from_the_allocator_pre_check() -> None:
    # [svcreg] clusterIP is copied to clusterIPs, then the allocator rejects the Service with
    # the ClusterIPs-related errors only, before ValidateService runs.
    assert svc("clusterIP: 10.96.0.300\nports: [{port: 70000}]") == [
        f'spec.clusterIPs[0]: Invalid value: "10.96.0.300": {IP_INVALID}'
    ]
    assert svc(
        """
        clusterIP: 10.96.0.1
        clusterIPs: [10.96.0.2, 10.96.0.3, 10.96.0.4]
        ipFamilies: [IPv4, IPv4, IPv5]
        ipFamilyPolicy: Maybe
        ports: [{port: 80}]
        """
    ) == [
        'spec.clusterIPs: Invalid value: ["10.96.0.2","10.96.0.3","10.96.0.4"]: first value must match `clusterIP`',
        'spec.ipFamilies[1]: Duplicate value: "IPv4"',
        'spec.ipFamilies[2]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"',
        'spec.ipFamilyPolicy: Unsupported value: "Maybe": supported values: "PreferDualStack", '
        '"RequireDualStack", "SingleStack"',
        'spec.clusterIPs: Invalid value: ["10.96.0.2","10.96.0.3","10.96.0.4"]: may only hold up to 2 values',
        'spec.clusterIPs: Invalid value: ["10.96.0.2","10.96.0.3","10.96.0.4"]: may specify no more '
        "than one IP for each IP family",
    ]
    assert svc("clusterIP: 010.96.0.1\nports: [{port: 80}]") == [
        'spec.clusterIPs[0]: Invalid value: "010.96.0.1": must not have leading 0s'
    ]
    assert svc("clusterIP: fd00::a\nipFamilies: [IPv4]\nports: [{port: 80}]") == [
        'spec.clusterIPs[0]: Invalid value: "fd00::a": expected an IPv4 value as indicated by `ipFamilies[0]`'
    ]


def test_session_affinity() -> None:
    assert svc(
        """
        sessionAffinity: ClientIP
        sessionAffinityConfig: {clientIP: {timeoutSeconds: 86401}}
        ports: [{port: 80}]
        """
    ) == [
        "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater "
        "than 0 and less than 86400"
    ]
    assert svc("sessionAffinity: Sticky\nports: [{port: 80}]") == [
        'spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"'
    ]
    assert svc("sessionAffinityConfig: {clientIP: {timeoutSeconds: 10}}\nports: [{port: 80}]") == [
        "spec.sessionAffinityConfig: Forbidden: must not be set when session affinity is None"
    ]


def test_traffic_policies() -> None:
    assert svc("externalTrafficPolicy: Local\nports: [{port: 80}]") == [
        'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services'
    ]
    assert svc("type: NodePort\nexternalTrafficPolicy: Global\nports: [{port: 80}]") == [
        'spec.externalTrafficPolicy: Unsupported value: "Global": supported values: "Cluster", "Local"'
    ]
    assert svc("type: NodePort\nhealthCheckNodePort: 31000\nports: [{port: 80}]") == [
        "spec.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is "
        "'LoadBalancer' and `externalTrafficPolicy` is 'Local'"
    ]
    assert svc("internalTrafficPolicy: Nearby\ntrafficDistribution: Far\nports: [{port: 80}]") == [
        'spec.internalTrafficPolicy: Unsupported value: "Nearby": supported values: "Cluster", "Local"',
        'spec.trafficDistribution: Unsupported value: "Far": supported values: "PreferClose", '
        '"PreferSameZone", "PreferSameNode"',
    ]
    # A ClusterIP Service with external IPs is externally accessible.
    assert svc("externalIPs: [192.0.2.10]\nexternalTrafficPolicy: Local\nports: [{port: 80}]") == []


def test_external_ips_source_ranges_and_load_balancer_fields() -> None:
    assert svc(
        """
        externalIPs: [127.0.0.1, 1.2.3, 169.254.1.1, 0.0.0.0]
        loadBalancerSourceRanges: [" 10.0.0.0/8", 10.0.0.1/8, 10.0.0.0/40]
        allocateLoadBalancerNodePorts: false
        loadBalancerClass: example.com/lb
        ports: [{port: 80}]
        """
    ) == [
        'spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        f'spec.externalIPs[1]: Invalid value: "1.2.3": {IP_INVALID}',
        'spec.externalIPs[2]: Invalid value: "169.254.1.1": may not be in the link-local range '
        "(169.254.0.0/16, fe80::/10)",
        'spec.externalIPs[3]: Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)',
        # Upstream's path for the source ranges really is capitalised.
        "spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'",
        'spec.LoadBalancerSourceRanges[1]: Invalid value: "10.0.0.1/8": must not have bits set '
        "beyond the prefix length",
        f'spec.LoadBalancerSourceRanges[2]: Invalid value: "10.0.0.0/40": {CIDR_INVALID}',
        "spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'",
        "spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'",
    ]


def test_service_selector_labels() -> None:
    assert svc("selector: {app: '-web'}\nports: [{port: 80}]") == [
        f'spec.selector: Invalid value: "-web": {LABEL_VALUE}'
    ]


# ------------------------------------------------------------------------------ Pod [core]

POD = """
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
"""


def pod(spec: str) -> list[str]:
    return bodies(POD + textwrap.indent(textwrap.dedent(spec), "  "))


def test_pod_needs_containers() -> None:
    assert pod("nodeName: n1") == ["spec.containers: Required value"]


def test_containers_names_images_and_ports() -> None:
    assert pod(
        """
        containers:
        - name: Web_1
          ports:
          - {containerPort: 0, name: http, protocol: ICMP}
          - {containerPort: 70000, name: http, hostPort: 99999}
          - {containerPort: 81, name: "Http--x"}
        - name: Web_1
          image: " nginx"
        """
    ) == [
        f'spec.containers[0].name: Invalid value: "Web_1": {DNS1123_LABEL}',
        "spec.containers[0].image: Required value",
        "spec.containers[0].ports[0].containerPort: Required value",
        'spec.containers[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        'spec.containers[0].ports[1].name: Duplicate value: "http"',
        "spec.containers[0].ports[1].containerPort: Invalid value: 70000: " + PORT_RANGE,
        "spec.containers[0].ports[1].hostPort: Invalid value: 99999: " + PORT_RANGE,
        'spec.containers[0].ports[2].name: Invalid value: "Http--x": must contain only '
        "alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        'spec.containers[0].ports[2].name: Invalid value: "Http--x": must not contain consecutive hyphens',
        f'spec.containers[1].name: Invalid value: "Web_1": {DNS1123_LABEL}',
        'spec.containers[1].name: Duplicate value: "Web_1"',
        'spec.containers[1].image: Invalid value: " nginx": must not have leading or trailing whitespace',
    ]


def test_port_names_are_unique_per_container_and_host_ports_per_pod() -> None:
    # validateContainerPorts keeps one name set per container; host ports are accumulated
    # across containers as "protocol/hostIP/port".
    assert pod(
        """
        containers:
        - {name: a, image: i, ports: [{containerPort: 80, name: http, hostPort: 8080}]}
        - {name: b, image: i, ports: [{containerPort: 80, name: http, hostPort: 8080}]}
        """
    ) == ['spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"']


def test_probes() -> None:
    assert pod(
        """
        containers:
        - name: a
          image: i
          livenessProbe: {httpGet: {port: 0}, tcpSocket: {port: http}, successThreshold: 2}
          readinessProbe: {periodSeconds: -1}
          startupProbe: {tcpSocket: {port: "-http"}}
        - name: b
          image: i
          readinessProbe: {exec: {command: []}, httpGet: {path: /, port: http, scheme: FTP}}
          livenessProbe: {grpc: {port: 0}}
        """
    ) == [
        "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: " + PORT_RANGE,
        "spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        "spec.containers[0].readinessProbe: Required value: must specify a handler type",
        "spec.containers[0].readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0",
        'spec.containers[0].startupProbe.tcpSocket.port: Invalid value: "-http": must not begin or end with a hyphen',
        "spec.containers[1].livenessProbe.grpc.port: Invalid value: 0: " + PORT_RANGE,
        "spec.containers[1].readinessProbe.exec.command: Required value",
        "spec.containers[1].readinessProbe.httpGet: Forbidden: may not specify more than 1 handler type",
    ]


def test_init_containers() -> None:
    assert pod(
        """
        containers: [{name: a, image: i}]
        initContainers:
        - {name: a, image: i, readinessProbe: {tcpSocket: {port: 80}}}
        - {name: side, image: i, restartPolicy: OnFailure}
        - {name: car, image: i, restartPolicy: Always, readinessProbe: {tcpSocket: {port: 80}}}
        """
    ) == [
        'spec.initContainers[0].name: Duplicate value: "a"',
        "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers "
        "without restartPolicy=Always",
        'spec.initContainers[1].restartPolicy: Unsupported value: "OnFailure": supported values: "Always"',
    ]
    assert pod("containers: [{name: a, image: i, restartPolicy: Always}]") == [
        "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers"
    ]


def test_dns_policy_and_config() -> None:
    assert pod("containers: [{name: a, image: i}]\ndnsPolicy: None") == [
        "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"
    ]
    assert pod(
        "containers: [{name: a, image: i}]\ndnsPolicy: None\ndnsConfig: {searches: [a.b]}"
    ) == [
        "spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when "
        "`dnsPolicy` is None"
    ]
    assert pod(
        """
        containers: [{name: a, image: i}]
        dnsPolicy: Cluster
        dnsConfig:
          nameservers: [1.1.1.1, 8.8.8.8, 9.9.9.9, 1.2.3]
          searches: [ns.svc.cluster.local., _srv.example.com, "Bad Domain", "."]
          options: [{name: ndots, value: "2"}, {value: "1"}]
        """
    ) == [
        'spec.dnsPolicy: Unsupported value: "Cluster": supported values: "ClusterFirstWithHostNet", '
        '"ClusterFirst", "Default", "None"',
        'spec.dnsConfig.nameservers: Invalid value: ["1.1.1.1","8.8.8.8","9.9.9.9","1.2.3"]: must '
        "not have more than 3 nameservers",
        f'spec.dnsConfig.nameservers[3]: Invalid value: "1.2.3": {IP_INVALID}',
        'spec.dnsConfig.searches[2]: Invalid value: "Bad Domain": a lowercase RFC 1123 subdomain must '
        "consist of lower case alphanumeric characters, '_', '-' or '.', and must start and end with "
        "an alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*')",
        "spec.dnsConfig.options[1]: Required value: must not be empty",
    ]


def test_restart_policy_hostname_subdomain_node_name_host_network() -> None:
    assert pod(
        """
        containers: [{name: a, image: i, ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 81}]}]
        restartPolicy: Sometimes
        hostname: Web
        subdomain: db.svc
        nodeName: Node_1
        hostNetwork: true
        nodeSelector: {"kubernetes.io/os": "-linux"}
        """
    ) == [
        "spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort` when "
        "`hostNetwork` is true",
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        f'spec.nodeSelector: Invalid value: "-linux": {LABEL_VALUE}',
        f'spec.nodeName: Invalid value: "Node_1": {DNS1123_SUBDOMAIN}',
        f'spec.hostname: Invalid value: "Web": {DNS1123_LABEL}',
        'spec.subdomain: Invalid value: "db.svc": must not contain dots',
    ]


def test_tolerations_and_host_aliases() -> None:
    assert pod(
        """
        containers: [{name: a, image: i}]
        tolerations:
        - {operator: Equal, value: x}
        - {key: k, operator: Exists, value: v, effect: Sometimes}
        - {key: k, operator: Maybe, tolerationSeconds: 5, effect: NoSchedule}
        hostAliases:
        - {ip: 10.0.0.256, hostnames: [ok.example.com, "Not OK"]}
        """
    ) == [
        'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is '
        'empty, which means "match all values and all keys"',
        "spec.tolerations[1].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
        'spec.tolerations[1].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", '
        '"PreferNoSchedule", "NoExecute"',
        "spec.tolerations[2].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when "
        "`tolerationSeconds` is set",
        'spec.tolerations[2].operator: Unsupported value: "Maybe": supported values: "Equal", "Exists"',
        f'spec.hostAliases[0].ip: Invalid value: "10.0.0.256": {IP_INVALID}',
        f'spec.hostAliases[0].hostnames[1]: Invalid value: "Not OK": {DNS1123_SUBDOMAIN}',
    ]


def test_pod_specific_annotations() -> None:
    assert bodies(
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: p
          annotations:
            kubernetes.io/config.mirror: "yes"
            controller.kubernetes.io/pod-deletion-cost: "+10"
        spec:
          containers: [{name: a, image: i}]
        """
    ) == [
        'metadata.annotations[kubernetes.io/config.mirror]: Invalid value: "yes": must set '
        "spec.nodeName if mirror pod annotation is set",
        'metadata.annotations[controller.kubernetes.io/pod-deletion-cost]: Invalid value: "+10": '
        "must be a 32bit integer",
    ]


# ------------------------------------------------------------------------------ workloads [apps] [batch] [core]


def test_deployment_selector_must_match_template_labels() -> None:
    assert bodies(
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: -1
          selector: {matchLabels: {app: x}}
          template:
            metadata: {labels: {app: y}}
            spec: {containers: [{name: web, image: i}]}
        """
    ) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.metadata.labels: Invalid value: {"app":"y"}: `selector` does not match template `labels`',
    ]


def test_deployment_selector_required_non_empty_and_valid() -> None:
    tmpl = "  template:\n    metadata: {labels: {app: y}}\n    spec: {containers: [{name: a, image: i}]}\n"
    head = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
    # A nil selector converts to "select nothing", which matches no template.
    assert bodies(head + tmpl) == [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: {"app":"y"}: `selector` does not match template `labels`',
    ]
    assert bodies(head + "  selector: {}\n" + tmpl) == [
        "spec.selector: Invalid value: {}: empty selector is invalid for deployment"
    ]
    assert bodies(head + "  selector: {matchExpressions: [{key: app, operator: In}]}\n" + tmpl) == [
        "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
        'spec.selector: Invalid value: {"matchExpressions":[{"key":"app","operator":"In"}]}: invalid label selector',
    ]


def test_deployment_strategy_and_template_restart_policy() -> None:
    assert bodies(
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 0, maxSurge: "150"}}
          minReadySeconds: 10
          progressDeadlineSeconds: 5
          template:
            metadata: {labels: {app: web}}
            spec: {restartPolicy: Never, containers: [{name: web, image: i}]}
        """
    ) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
        'spec.strategy.rollingUpdate.maxSurge: Invalid value: "150": a valid percent string must be '
        "a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for "
        "validation is '[0-9]+%')",
        "spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds",
    ]


def test_stateful_set() -> None:
    # [apps] the StatefulSet pod template's spec is not validated upstream (only its labels,
    # annotations, restart policy and activeDeadlineSeconds).
    assert bodies(
        """
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: db}
        spec:
          selector: {matchLabels: {app: db}}
          podManagementPolicy: Random
          ordinals: {start: -1}
          template:
            metadata: {labels: {app: other}}
            spec: {containers: [{name: Bad_Name}]}
        """
    ) == [
        "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
        "spec.ordinals.start: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.metadata.labels: Invalid value: {"app":"other"}: `selector` does not match template `labels`',
    ]


def test_daemon_set() -> None:
    assert bodies(
        """
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: agent}
        spec:
          selector: {}
          updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 0, maxSurge: 0}}
          template:
            metadata: {labels: {app: agent}}
            spec: {containers: [{name: a, image: i}]}
        """
    ) == [
        "spec.selector: Invalid value: {}: empty selector is invalid for daemonset",
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0",
    ]


def test_replica_set_and_replication_controller() -> None:
    assert bodies(
        """
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata: {name: rs}
        spec:
          selector: {matchLabels: {app: x}}
          template:
            metadata: {labels: {app: x}}
            spec: {containers: []}
        """
    ) == ["spec.template.spec.containers: Required value"]
    assert bodies(
        """
        apiVersion: v1
        kind: ReplicationController
        metadata: {name: rc}
        spec:
          selector: {app: x}
          template:
            metadata: {labels: {app: y}}
            spec: {containers: [{name: a, image: i}]}
        """
    ) == [
        'spec.template.metadata.labels: Invalid value: {"app":"y"}: `selector` does not match template `labels`'
    ]


def test_job() -> None:
    assert bodies(
        """
        apiVersion: batch/v1
        kind: Job
        metadata: {name: j}
        spec:
          parallelism: -1
          completionMode: Sometimes
          template:
            spec:
              restartPolicy: Whenever
              containers: [{name: a, image: i}]
        """
    ) == [
        "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
        'spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"',
        'spec.template.spec.restartPolicy: Unsupported value: "Whenever": supported values: "Always", '
        '"OnFailure", "Never"',
        'spec.template.spec.restartPolicy: Unsupported value: "Whenever": supported values: "OnFailure", "Never"',
    ]
    assert (
        bodies(
            """
        apiVersion: batch/v1
        kind: Job
        metadata: {name: j}
        spec:
          completionMode: Indexed
          template:
            spec:
              restartPolicy: Never
              containers: [{name: a, image: i}]
        """
        )
        == []
    )


def test_cron_job() -> None:
    assert bodies(
        """
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: cj}
        spec:
          schedule: "*/5 * * *"
          timeZone: Mars/Olympus
          concurrencyPolicy: Sometimes
          jobTemplate:
            spec:
              template:
                spec:
                  containers: [{name: a, image: i}]
        """
    ) == [
        'spec.schedule: Invalid value: "*/5 * * *": expected exactly 5 fields, found 4: [*/5 * * *]',
        *(
            ['spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus']
            if HAVE_TZDATA
            else []
        ),
        'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"',
        # A CronJob's pod template is defaulted to Always, which a Job refuses.
        'spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
    ]
    assert bodies(
        """
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: cj}
        spec:
          schedule: "CRON_TZ=UTC 0 * * * *"
          timeZone: Europe/Paris
          jobTemplate:
            spec:
              template:
                spec:
                  restartPolicy: OnFailure
                  containers: [{name: a, image: i}]
        """
    ) == [
        'spec.schedule: Invalid value: "CRON_TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in '
        "schedule, use timeZone field instead"
    ]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("@hourly", None),
        ("*/15 9-17 * jan-mar mon-fri", None),
        ("@every 1h30m", None),
        # [cron] TestParseScheduleErrors, TestRange (full texts from parser.go)
        ("", "empty spec string"),
        ("@unrecognized", "unrecognized descriptor: @unrecognized"),
        ("@every Xm", 'failed to parse duration @every Xm: time: invalid duration "Xm"'),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("5--5 * * * *", "too many hyphens: 5--5"),
        ("* * * jan-x *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("*/-12 * * * *", "negative number (-12) not allowed: -12"),
        ("*//2 * * * *", "too many slashes: */2".replace("*/2", "*//2")),
        ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("5-3 * * * *", "beginning of range (5) beyond end of range (3): 5-3"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
    ],
)
def test_cron_schedules(schedule: str, message: str | None) -> None:
    assert cron_parse_error(schedule) == message


def test_cron_job_name_length() -> None:
    name = "c" * 53
    msgs = bodies(
        f"""
        apiVersion: batch/v1
        kind: CronJob
        metadata: {{name: {name}}}
        spec:
          schedule: "@daily"
          jobTemplate:
            spec:
              template:
                spec:
                  restartPolicy: Never
                  containers: [{{name: a, image: i}}]
        """
    )
    assert msgs == [f'metadata.name: Invalid value: "{name}": must be no more than 52 characters']


# ------------------------------------------------------------------------------ Ingress [net]

ING = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ing}
spec:
"""


def ing(spec: str) -> list[str]:
    return bodies(ING + textwrap.indent(textwrap.dedent(spec), "  "))


def backend(service: str = "web", port: str = "{number: 80}") -> str:
    return f"{{service: {{name: {service}, port: {port}}}}}"


def test_ingress_needs_rules_or_default_backend() -> None:
    assert ing("ingressClassName: nginx") == [
        "spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"
    ]
    assert ing(f"defaultBackend: {backend()}") == []


def test_ingress_path_type_and_paths() -> None:
    assert ing(
        f"""
        rules:
        - host: shop.example.com
          http:
            paths:
            - {{path: /a, backend: {backend()}}}
            - {{path: api, pathType: Prefix, backend: {backend()}}}
            - {{path: /a//b/./c/.., pathType: Exact, backend: {backend()}}}
            - {{path: x, pathType: Regex, backend: {backend()}}}
            - {{path: rel, pathType: ImplementationSpecific, backend: {backend()}}}
            - {{pathType: ImplementationSpecific, backend: {backend()}}}
        """
    ) == [
        "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
        'spec.rules[0].http.paths[1].path: Invalid value: "api": must be an absolute path',
        "spec.rules[0].http.paths[2].path: Invalid value: \"/a//b/./c/..\": must not contain '//'",
        "spec.rules[0].http.paths[2].path: Invalid value: \"/a//b/./c/..\": must not contain '/./'",
        "spec.rules[0].http.paths[2].path: Invalid value: \"/a//b/./c/..\": cannot end with '/..'",
        'spec.rules[0].http.paths[3].pathType: Unsupported value: "Regex": supported values: '
        '"Exact", "ImplementationSpecific", "Prefix"',
        'spec.rules[0].http.paths[4].path: Invalid value: "rel": must be an absolute path',
    ]


def test_ingress_hosts() -> None:
    assert ing(
        """
        rules:
        - host: 10.0.0.1
        - host: "*.example.com"
        - host: "*.*.example.com"
        - host: "shop.*.com"
        - host: Shop.example.com
          http: {paths: []}
        """
    ) == [
        'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address',
        f'spec.rules[2].host: Invalid value: "*.*.example.com": {WILDCARD}',
        f'spec.rules[3].host: Invalid value: "shop.*.com": {WILDCARD}',
        f'spec.rules[4].host: Invalid value: "Shop.example.com": {DNS1123_SUBDOMAIN}',
        "spec.rules[4].http.paths: Required value",
    ]


def test_ingress_backends() -> None:
    assert ing(
        f"""
        rules:
        - http:
            paths:
            - {{path: /, pathType: Prefix, backend: {backend("Web")}}}
            - {{path: /, pathType: Prefix, backend: {backend(port="{name: http, number: 80}")}}}
            - {{path: /, pathType: Prefix, backend: {backend(port="{}")}}}
            - {{path: /, pathType: Prefix, backend: {{}}}}
            - path: /
              pathType: Prefix
              backend:
                service: {{name: web, port: {{number: 80}}}}
                resource: {{kind: Bucket, name: b}}
            - {{path: /, pathType: Prefix, backend: {{resource: {{apiGroup: Example.com, kind: "a/b", name: ".."}}}}}}
            - {{path: /, pathType: Prefix, backend: {backend(port="{name: HTTP}")}}}
        """
    ) == [
        f'spec.rules[0].http.paths[0].backend.service.name: Invalid value: "Web": {DNS1035_LABEL}',
        'spec.rules[0].http.paths[1].backend: Invalid value: "": cannot set both port name & port number',
        "spec.rules[0].http.paths[2].backend: Required value: port name or number is required",
        'spec.rules[0].http.paths[3].backend: Invalid value: "": resource or service backend is required',
        'spec.rules[0].http.paths[4].backend: Invalid value: "": cannot set both resource and service backends',
        f'spec.rules[0].http.paths[5].backend.resource.apiGroup: Invalid value: "Example.com": {DNS1123_SUBDOMAIN}',
        "spec.rules[0].http.paths[5].backend.resource.kind: Invalid value: \"a/b\": may not contain '/'",
        "spec.rules[0].http.paths[5].backend.resource.name: Invalid value: \"..\": may not be '..'",
        'spec.rules[0].http.paths[6].backend.service.port.name: Invalid value: "HTTP": must contain '
        "only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        'spec.rules[0].http.paths[6].backend.service.port.name: Invalid value: "HTTP": must contain '
        "at least one letter (a-z)",
    ]


def test_ingress_tls_class_name_and_class_annotation() -> None:
    assert bodies(
        f"""
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: ing
          annotations: {{kubernetes.io/ingress.class: traefik}}
        spec:
          ingressClassName: Nginx
          defaultBackend: {backend()}
          tls: [{{hosts: ["*.shop.example.com", "a*.example.com"], secretName: Shop_TLS}}]
        """
    ) == [
        f'spec.tls[0].hosts[1]: Invalid value: "a*.example.com": {WILDCARD}',
        f'spec.tls[0].secretName: Invalid value: "Shop_TLS": {DNS1123_SUBDOMAIN}',
        f'spec.ingressClassName: Invalid value: "Nginx": {DNS1123_SUBDOMAIN}',
        # Upstream's path for the annotation has no "metadata." and no brackets.
        'annotations.kubernetes.io/ingress.class: Invalid value: "traefik": must match '
        "`ingressClassName` when both are specified",
    ]


def test_ingress_class() -> None:
    head = "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: nginx}\n"
    assert bodies(head + "spec: {}\n") == ["spec.controller: Required value"]
    assert bodies(head + "spec: {controller: nginx}\n") == [
        'spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")'
    ]
    assert bodies(
        head
        + "spec:\n  controller: k8s.io/ingress-nginx\n"
        + "  parameters: {kind: IngressParameters, name: p, scope: Namespace}\n"
    ) == ["spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"]
    assert bodies(
        head
        + "spec:\n  controller: k8s.io/ingress-nginx\n  parameters: {kind: K, name: p, namespace: x}\n"
    ) == ["spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"]


# ------------------------------------------------------------------------------ NetworkPolicy [net] [sel]

NP = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np}
spec:
"""


def np(spec: str) -> list[str]:
    return bodies(NP + textwrap.indent(textwrap.dedent(spec), "  "))


def test_network_policy_label_selectors() -> None:
    assert np(
        """
        podSelector:
          matchLabels: {"app/x/y": web}
          matchExpressions:
          - {key: app, operator: In}
          - {key: tier, operator: Exists, values: [a]}
          - {key: tier, operator: Near, values: ["-x"]}
        """
    ) == [
        'spec.podSelector.matchLabels: Invalid value: "app/x/y": a valid label key must consist of '
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
        "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
        "(e.g. 'example.com/MyName')",
        "spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
        "spec.podSelector.matchExpressions[1].values: Forbidden: may not be specified when `operator` "
        "is 'Exists' or 'DoesNotExist'",
        'spec.podSelector.matchExpressions[2].operator: Invalid value: "Near": not a valid selector operator',
        f'spec.podSelector.matchExpressions[2].values[0]: Invalid value: "-x": {LABEL_VALUE}',
    ]


def test_network_policy_ports_and_policy_types() -> None:
    assert np(
        """
        podSelector: {}
        policyTypes: [Ingress, Sideways]
        ingress:
        - ports:
          - {port: 0}
          - {port: 8000, endPort: 7999}
          - {port: 8000, endPort: 70000}
          - {port: http, endPort: 9000}
          - {endPort: 9000, protocol: ICMP}
          - {port: "-http"}
        """
    ) == [
        "spec.ingress[0].ports[0].port: Invalid value: 0: " + PORT_RANGE,
        "spec.ingress[0].ports[1].endPort: Invalid value: 7999: must be greater than or equal to `port`",
        "spec.ingress[0].ports[2].endPort: Invalid value: 70000: " + PORT_RANGE,
        "spec.ingress[0].ports[3].endPort: Invalid value: 9000: may not be specified when `port` is non-numeric",
        'spec.ingress[0].ports[4].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
        "spec.ingress[0].ports[4].endPort: Invalid value: 9000: may not be specified when `port` is not specified",
        'spec.ingress[0].ports[5].port: Invalid value: "-http": must not begin or end with a hyphen',
        'spec.policyTypes[1]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"',
    ]
    assert np("podSelector: {}\npolicyTypes: [Ingress, Egress, Ingress]") == [
        'spec.policyTypes: Invalid value: ["Ingress","Egress","Ingress"]: may not specify more than two policyTypes'
    ]


def test_network_policy_peers_and_ip_blocks() -> None:
    assert np(
        """
        podSelector: {}
        egress:
        - to:
          - {}
          - {ipBlock: {cidr: 10.0.0.0/16}, namespaceSelector: {}}
          - ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24, 10.1.0.0/24, 10.0.0.0/16, 10.0.0.0/8, 10.0.2.1/24, 10.0.300.0/24]}
          - {ipBlock: {cidr: 10.0.0.1/16}}
          - {ipBlock: {cidr: ""}}
          - {ipBlock: {cidr: "::ffff:10.0.0.0/104"}}
        """
    ) == [
        "spec.egress[0].to[0]: Required value: must specify a peer",
        "spec.egress[0].to[1]: Forbidden: may not specify both ipBlock and another peer",
        'spec.egress[0].to[2].ipBlock.except[1]: Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`',
        'spec.egress[0].to[2].ipBlock.except[2]: Invalid value: "10.0.0.0/16": must be a strict subset of `cidr`',
        'spec.egress[0].to[2].ipBlock.except[3]: Invalid value: "10.0.0.0/8": must be a strict subset of `cidr`',
        'spec.egress[0].to[2].ipBlock.except[4]: Invalid value: "10.0.2.1/24": must not have bits set beyond the prefix length',
        f'spec.egress[0].to[2].ipBlock.except[5]: Invalid value: "10.0.300.0/24": {CIDR_INVALID}',
        'spec.egress[0].to[3].ipBlock.cidr: Invalid value: "10.0.0.1/16": must not have bits set beyond the prefix length',
        "spec.egress[0].to[4].ipBlock.cidr: Required value",
        'spec.egress[0].to[5].ipBlock.cidr: Invalid value: "::ffff:10.0.0.0/104": must not have an IPv4-mapped IPv6 address',
    ]


# ------------------------------------------------------------------------------ EndpointSlice [disc]


def test_endpoint_slice() -> None:
    assert bodies(
        """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-abc12}
        addressType: IPv4
        endpoints:
        - addresses: [10.244.1.5, "fd00::5", 127.0.0.1, 010.244.1.6]
          hostname: Web
          nodeName: Node_1
          hints: {forZones: [{name: a}, {name: a}]}
        - addresses: []
        ports:
        - {name: http, port: 80}
        - {name: http, port: 81, protocol: ICMP, appProtocol: "not ok"}
        - {port: 82}
        """
    ) == [
        'endpoints[0].addresses[1]: Invalid value: "fd00::5": must be a valid IPv4 address',
        'endpoints[0].addresses[2]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        'endpoints[0].addresses[3]: Invalid value: "010.244.1.6": must not have leading 0s',
        f'endpoints[0].nodeName: Invalid value: "Node_1": {DNS1123_SUBDOMAIN}',
        f'endpoints[0].hostname: Invalid value: "Web": {DNS1123_LABEL}',
        'endpoints[0].hints.forZones[1].name: Duplicate value: "a"',
        "endpoints[1].addresses: Required value: must contain at least 1 address",
        'ports[1].name: Duplicate value: "http"',
        'ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        f'ports[1].appProtocol: Invalid value: "not ok": {NAME_PART}',
    ]
    assert bodies(
        """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: es}
        addressType: Unix
        """
    ) == ['addressType: Unsupported value: "Unix": supported values: "FQDN", "IPv4", "IPv6"']
    assert bodies(
        """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: es}
        addressType: FQDN
        endpoints: [{addresses: [db.example.com., localhost, Db.example.com]}]
        """
    ) == [
        'endpoints[0].addresses[1]: Invalid value: "localhost": should be a domain with at least two '
        "segments separated by dots",
        f'endpoints[0].addresses[2]: Invalid value: "Db.example.com": {DNS1123_SUBDOMAIN}',
    ]


# ------------------------------------------------------------------------------ Secret, ConfigMap [core] [b64]

CERT = "Y2VydA=="


def test_tls_secret_needs_cert_and_key() -> None:
    assert bodies(
        """
        apiVersion: v1
        kind: Secret
        metadata: {name: tls}
        type: kubernetes.io/tls
        data: {ca.crt: Y2E=}
        """
    ) == ["data[tls.crt]: Required value", "data[tls.key]: Required value"]
    # stringData is merged into data by the v1 conversion before validation.
    assert (
        bodies(
            f"""
        apiVersion: v1
        kind: Secret
        metadata: {{name: tls}}
        type: kubernetes.io/tls
        data: {{tls.crt: {CERT}}}
        stringData: {{tls.key: key}}
        """
        )
        == []
    )


def test_secret_keys_and_types() -> None:
    assert bodies(
        """
        apiVersion: v1
        kind: Secret
        metadata: {name: s}
        type: kubernetes.io/basic-auth
        stringData: {"bad key": x, "..": y}
        """
    ) == [
        'data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric '
        "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used "
        "for validation is '[-._a-zA-Z0-9]+')",
        "data[..]: Invalid value: \"..\": must not be '..'",
        "data[username]: Required value",
        "data[password]: Required value",
    ]
    assert bodies(
        """
        apiVersion: v1
        kind: Secret
        metadata: {name: s}
        type: kubernetes.io/service-account-token
        """
    ) == ["metadata.annotations[kubernetes.io/service-account.name]: Required value"]
    assert bodies(
        """
        apiVersion: v1
        kind: Secret
        metadata: {name: s}
        type: kubernetes.io/dockerconfigjson
        stringData: {.dockerconfigjson: "[]"}
        """
    ) == [
        'data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": json: cannot '
        "unmarshal array into Go value of type map[string]interface {}"
    ]


@pytest.mark.parametrize(
    ("encoded", "offset"),
    [
        # [b64] TestDecodeCorrupt
        ("", None),
        ("\n", None),
        ("AAA=\n", None),
        ("AAAA\n", None),
        ("!!!!", 0),
        ("====", 0),
        ("x===", 1),
        ("=AAA", 0),
        ("A=AA", 1),
        ("AA=A", 2),
        ("AA==A", 4),
        ("AAA=AAAA", 4),
        ("AAAAA", 4),
        ("AAAAAA", 4),
        ("A=", 1),
        ("A==", 1),
        ("AA=", 3),
        ("AA==", None),
        ("AAA=", None),
        ("AAAA", None),
        ("AAAAAA=", 7),
        ("YWJjZA=====", 8),
        ("A!\n", 1),
        ("A=\n", 1),
    ],
)
def test_go_base64_offsets(encoded: str, offset: int | None) -> None:
    assert go_base64_decode(encoded)[1] == offset


def test_undecodable_secret_data_fails_as_the_decoder_reports_it() -> None:
    # What kube-apiserver answers (400 BadRequest, before validation) for data: {user: admin}.
    assert errors(
        """
        apiVersion: v1
        kind: Secret
        metadata: {name: "Bad Name"}
        data: {user: admin, pass: d29tYmF0}
        """
    ) == [
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4'
    ]
    assert errors(
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: cm}
        binaryData: {blob: "not base64"}
        """
    ) == [
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: illegal base64 data at input byte 3'
    ]


def test_config_map_keys() -> None:
    assert bodies(
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: cm}
        data: {ok.key: v, "bad/key": v, both: v}
        binaryData: {both: dg==, "..x": dg==}
        """
    ) == [
        'data[bad/key]: Invalid value: "bad/key": a valid config key must consist of alphanumeric '
        "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used "
        "for validation is '[-._a-zA-Z0-9]+')",
        'data[both]: Invalid value: "both": duplicate of key present in binaryData',
        "binaryData[..x]: Invalid value: \"..x\": must not start with '..'",
    ]


# ------------------------------------------------------------------------------ Namespace, Node [core]


def test_namespace_and_node() -> None:
    assert bodies(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: Shop}
        spec: {finalizers: [kubernetes, custom]}
        """
    ) == [
        f'metadata.name: Invalid value: "Shop": {DNS1123_LABEL}',
        'spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified',
    ]
    assert bodies(
        """
        apiVersion: v1
        kind: Node
        metadata: {name: worker-1}
        spec:
          podCIDRs: [10.244.1.0/24, 10.244.2.0/24, 10.244.1.0/24, 10.244.3.1/24]
          taints:
          - {key: dedicated, value: db, effect: NoSchedule}
          - {key: dedicated, value: web, effect: NoSchedule}
          - {key: "-x", effect: ""}
        """
    ) == [
        # [core] validateNodeTaints is called with the metadata path: metadata.taints[i].
        'metadata.taints[1]: Duplicate value: core.Taint{Key:"dedicated", Value:"web", '
        'Effect:"NoSchedule", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair',
        f'metadata.taints[2].key: Invalid value: "-x": {NAME_PART}',
        "metadata.taints[2].effect: Required value",
        'spec.podCIDRs[3]: Invalid value: "10.244.3.1/24": must not have bits set beyond the prefix length',
        'spec.podCIDRs: Invalid value: ["10.244.1.0/24","10.244.2.0/24","10.244.1.0/24","10.244.3.1/24"]: '
        "may specify no more than one CIDR for each IP family",
        'spec.podCIDRs[2]: Duplicate value: "10.244.1.0/24"',
    ]
    assert bodies(
        "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nspec: {podCIDR: 10.244.0.0/33}\n"
    ) == [f'spec.podCIDRs[0]: Invalid value: "10.244.0.0/33": {CIDR_INVALID}']


# ------------------------------------------------------------------------------ many errors at once


def test_a_broken_object_reports_every_error_in_order() -> None:
    msgs = errors(
        """
        apiVersion: v1
        kind: Service
        metadata: {name: Web_Service, labels: {tier: "-front"}}
        spec:
          type: NodePort
          sessionAffinity: Sticky
          ports:
          - {name: http, port: 0}
          - {name: http, port: 80, protocol: HTTP}
        """
    )
    assert msgs == [
        f'The Service "Web_Service" is invalid: metadata.name: Invalid value: "Web_Service": {DNS1035_LABEL}',
        f'The Service "Web_Service" is invalid: metadata.labels: Invalid value: "-front": {LABEL_VALUE}',
        'The Service "Web_Service" is invalid: spec.ports[0].port: Invalid value: 0: ' + PORT_RANGE,
        'The Service "Web_Service" is invalid: spec.ports[0].targetPort: Invalid value: 0: '
        + PORT_RANGE,
        'The Service "Web_Service" is invalid: spec.ports[1].name: Duplicate value: "http"',
        'The Service "Web_Service" is invalid: spec.ports[1].protocol: Unsupported value: "HTTP": '
        'supported values: "SCTP", "TCP", "UDP"',
        'The Service "Web_Service" is invalid: spec.sessionAffinity: Unsupported value: "Sticky": '
        'supported values: "ClientIP", "None"',
    ]


def test_workload_update_strategies() -> None:
    # [apps] ValidateDeploymentStrategy / the StatefulSet switch; internal structs print as %#v.
    head = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
    tmpl = (
        "  selector: {matchLabels: {app: d}}\n"
        "  template:\n    metadata: {labels: {app: d}}\n"
        "    spec: {containers: [{name: a, image: i}]}\n"
    )
    assert bodies(head + "  strategy: {type: Recreate, rollingUpdate: {maxSurge: 1}}\n" + tmpl) == [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
    ]
    assert bodies(head + "  strategy: {type: BlueGreen}\n" + tmpl) == [
        'spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"BlueGreen", '
        'RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", '
        '"RollingUpdate"'
    ]
    assert bodies(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec:\n"
        "  updateStrategy: {type: Canary}\n" + tmpl.replace("app: d", "app: s")
    ) == [
        'spec.updateStrategy: Invalid value: apps.StatefulSetUpdateStrategy{Type:"Canary", '
        "RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}: must be 'RollingUpdate' or "
        "'OnDelete'"
    ]


def test_cron_job_time_zone_names() -> None:
    # [batch] validateTimeZone: each path element is checked before the zone is looked up.
    assert bodies(
        """
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: cj}
        spec:
          schedule: "@daily"
          timeZone: ../etc/passwd
          jobTemplate:
            spec:
              template:
                spec:
                  restartPolicy: Never
                  containers: [{name: a, image: i}]
        """
    ) == ['spec.timeZone: Invalid value: "../etc/passwd": unknown time zone ../etc/passwd']
