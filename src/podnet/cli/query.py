"""``get`` and ``describe``: which objects a command's arguments select, and how they print.

Arguments follow kubectl: ``TYPE[,TYPE…] [NAME…]`` or ``TYPE/NAME…``, ``all`` for the workload
category, ``-l`` to filter by labels, ``-n``/``-A`` for namespaces. The result of a command is
a :class:`Output` — what goes to stdout, what goes to stderr and the exit status — so the
click layer only writes it out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from podnet.api.meta import Resource
from podnet.api.selectors import Selector, parse_selector
from podnet.cli.context import CliError, Options, Target
from podnet.cli.describe import describe, describe_endpoints
from podnet.cli.kinds import ALL_CATEGORY, ENDPOINTS, ResourceType, resolve, type_of
from podnet.cli.printers import (
    Item,
    Printer,
    as_list,
    check_output,
    item_dict,
    item_meta,
    name_of,
    to_json,
    to_yaml,
)
from podnet.cluster.endpoints import endpoints_objects
from podnet.cluster.state import ClusterState


@dataclass(slots=True)
class Output:
    stdout: str = ""
    stderr: list[str] = field(default_factory=list)
    code: int = 0


@dataclass(frozen=True, slots=True)
class Request:
    rtype: ResourceType
    names: tuple[str, ...] = ()


def selector_of(opts: Options) -> Selector | None:
    if not opts.selector:
        return None
    try:
        return parse_selector(opts.selector)
    except ValueError as e:
        raise CliError(f"error: {e}") from e


def parse_args(args: Sequence[str], state: ClusterState, verb: str) -> tuple[list[Request], bool]:
    """(requests, several types?) from ``TYPE[,TYPE] [NAME…]`` or ``TYPE/NAME…``."""
    objects = list(state.objects.values())
    if any("/" in a for a in args):
        if not all("/" in a for a in args):
            raise CliError(
                "error: there is no need to specify a resource type as a separate argument when "
                "passing arguments in resource/name form (e.g. 'podnet get resource/<resource_name>' "
                "instead of 'podnet get resource resource/<resource_name>'"
            )
        by_type: dict[ResourceType, list[str]] = {}
        for a in args:
            kind, _, name = a.partition("/")
            if not name:
                raise CliError(f"error: arguments in resource/name form must have a single resource and name")
            by_type.setdefault(resolve(kind, objects), []).append(name)
        requests = [Request(t, tuple(n)) for t, n in by_type.items()]
        return requests, len(requests) > 1
    kinds = [k for k in args[0].split(",") if k]
    if not kinds:
        raise CliError(f'error: the server doesn\'t have a resource type "{args[0]}"')
    types: list[ResourceType] = []
    several = len(kinds) > 1
    for k in kinds:
        if k.lower() == "all":
            several = True
            for name in ALL_CATEGORY:
                t = resolve(name)
                if t not in types:
                    types.append(t)
        else:
            t = resolve(k, objects)
            if t not in types:
                types.append(t)
    names = tuple(args[1:])
    return [Request(t, names) for t in types], several


def _same_type(obj: Resource, rtype: ResourceType) -> bool:
    t = type_of(obj)
    return (t.group, t.kind) == (rtype.group, rtype.kind)


def list_items(
    state: ClusterState,
    rtype: ResourceType,
    namespace: str | None,
    selector: Selector | None,
) -> list[Item]:
    """Objects of ``rtype`` in ``namespace`` (None: all) that ``selector`` picks, sorted."""
    ns = namespace if rtype.namespaced else None
    items: list[Item]
    if rtype == ENDPOINTS:
        items = list(endpoints_objects(state, ns))
    else:
        items = [o for o in state.of_kind(rtype.kind, ns) if _same_type(o, rtype)]
    if selector is not None:
        items = [i for i in items if selector.matches(item_meta(i)[2])]
    items.sort(key=lambda i: item_meta(i)[:2])
    return items


def no_resources(rtype_namespaced: bool, opts: Options) -> str:
    if rtype_namespaced and not opts.all_namespaces:
        return f"No resources found in {opts.ns} namespace."
    return "No resources found"


def not_found(rtype: ResourceType, name: str) -> str:
    return f'Error from server (NotFound): {rtype.qualified_plural} "{name}" not found'


def _given_requests(given: Sequence[Resource]) -> list[tuple[ResourceType, list[Item]]]:
    sections: dict[ResourceType, list[Item]] = {}
    for obj in given:
        sections.setdefault(type_of(obj), []).append(obj)
    return list(sections.items())


def select(
    target: Target, args: Sequence[str], opts: Options, verb: str, prefix_match: bool = False
) -> tuple[list[tuple[ResourceType, list[Item]]], list[str], bool, bool]:
    """(sections of (type, items), errors, several types?, names given?)."""
    state = target.state
    selector = selector_of(opts)
    if not args:
        if target.given:
            given = [state.find(o.ref) or o for o in target.given]
            if selector is not None:
                given = [o for o in given if selector.matches(o.labels)]
            sections = _given_requests(given)
            return sections, [], len(sections) > 1, False
        raise CliError(
            f'error: you must specify the type of resource to {verb}. Use "podnet api-resources" '
            "for a complete list of supported resources."
        )
    requests, several = parse_args(args, state, verb)
    errors: list[str] = []
    out: list[tuple[ResourceType, list[Item]]] = []
    named = any(r.names for r in requests)
    if named and opts.all_namespaces and verb == "get":
        raise CliError("error: a resource cannot be retrieved by name across all namespaces")
    namespace = None if opts.all_namespaces else opts.ns
    for req in requests:
        items = list_items(state, req.rtype, namespace, selector if not req.names else None)
        if not req.names:
            out.append((req.rtype, items))
            continue
        picked: list[Item] = []
        by_name = {item_meta(i)[1]: i for i in items}
        for name in req.names:
            if name in by_name:
                picked.append(by_name[name])
                continue
            if prefix_match:
                matches = [i for n, i in by_name.items() if n.startswith(name)]
                if matches:
                    picked.extend(matches)
                    continue
            errors.append(not_found(req.rtype, name))
        out.append((req.rtype, picked))
    return out, errors, several, named


def get(target: Target, args: Sequence[str], opts: Options, *, show_labels: bool = False,
        no_headers: bool = False, now: dt.datetime | None = None) -> Output:
    fmt = check_output(opts.output)
    sections, errors, several, named = select(target, args, opts, "get")
    result = Output(stderr=list(errors), code=1 if errors else 0)
    items = [i for _, section in sections for i in section]
    if fmt in ("json", "yaml"):
        single = named and len(items) == 1 and not several and len(sections) == 1 and not errors
        doc: Any = item_dict(items[0]) if single and len(_names(args)) == 1 else as_list(items)
        if not items and errors:
            return result
        result.stdout = to_json(doc) if fmt == "json" else to_yaml(doc)
        return result
    if fmt == "name":
        result.stdout = "".join(f"{name_of(t, i)}\n" for t, section in sections for i in section)
        if not items and not errors:
            result.stderr.append(no_resources(any(t.namespaced for t, _ in sections), opts))
        return result
    printer = Printer(
        target.state,
        now or dt.datetime.now(dt.timezone.utc),
        wide=fmt == "wide",
        all_namespaces=opts.all_namespaces,
        show_labels=show_labels,
        no_headers=no_headers,
    )
    tables = [printer.table(t, section, prefix=several) for t, section in sections if section]
    result.stdout = "\n".join(tables)
    if not items and not errors:
        result.stderr.append(no_resources(any(t.namespaced for t, _ in sections), opts))
    return result


def _names(args: Sequence[str]) -> list[str]:
    if any("/" in a for a in args):
        return [a.partition("/")[2] for a in args]
    return list(args[1:])


def describe_cmd(target: Target, args: Sequence[str], opts: Options,
                 now: dt.datetime | None = None) -> Output:
    sections, errors, _several, named = select(target, args, opts, "describe", prefix_match=True)
    when = now or dt.datetime.now(dt.timezone.utc)
    texts: list[str] = []
    for _, section in sections:
        for item in section:
            if isinstance(item, Resource):
                texts.append(describe(item, target.state, when))
            else:
                texts.append(describe_endpoints(item))
    result = Output(stdout="\n\n".join(texts), stderr=list(errors), code=1 if errors else 0)
    if not texts and not errors:
        result.stderr.append(no_resources(any(t.namespaced for t, _ in sections), opts))
    return result
