"""Tests for podnet.cluster.naming, with expectations taken from upstream behaviour."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podnet.cluster.naming import (
    ALPHANUMS,
    MAX_GENERATED_NAME_LENGTH,
    controller_pod_prefix,
    cronjob_job_name,
    daemonset_pod_name,
    deployment_pod_name,
    fnv1a_32,
    generate_name,
    job_pod_name,
    pod_template_hash,
    random_suffix,
    replicaset_name,
    safe_encode,
    statefulset_pod_name,
)

HASH_SHAPE = re.compile(r"[456789bcdf]{1,10}")
SUFFIX_SHAPE = re.compile(rf"[{ALPHANUMS}]{{5}}")

TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
}


# ---------------------------------------------------------------------------------------------
# safe_encode / fnv
# ---------------------------------------------------------------------------------------------


def test_alphabet_is_apimachinerys() -> None:
    assert ALPHANUMS == "bcdfghjklmnpqrstvwxz2456789"
    assert len(ALPHANUMS) == 27


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("", ""),
        # ord('0') = 48 and 48 % 27 = 21 -> '4'; ord('6') = 54 and 54 % 27 = 0 -> 'b'
        ("0123456789", "456789bcdf"),
        ("abc", "vwx"),  # 97, 98, 99 -> indexes 16, 17, 18
        ("2166136261", "65bb57b6b5"),  # the FNV-32 offset basis, in decimal
    ],
)
def test_safe_encode_examples(raw: str, encoded: str) -> None:
    assert safe_encode(raw) == encoded


def test_safe_encode_one_char_per_rune() -> None:
    # upstream's current test: rune count preserved, every character in the alphabet
    for text in ["é", "日本語", "kube-system-controller-manager"]:
        out = safe_encode(text)
        assert len(out) == len(text)
        assert set(out) <= set(ALPHANUMS)


def test_fnv1a_32_reference_vectors() -> None:
    assert fnv1a_32(b"") == 0x811C9DC5
    assert fnv1a_32(b"a") == 0xE40C292C
    assert fnv1a_32(b"foobar") == 0xBF9CF968


# ---------------------------------------------------------------------------------------------
# pod-template-hash
# ---------------------------------------------------------------------------------------------


def test_pod_template_hash_shape_and_stability() -> None:
    h = pod_template_hash(TEMPLATE, None)
    assert HASH_SHAPE.fullmatch(h)
    assert h == pod_template_hash(dict(reversed(list(TEMPLATE.items()))), None)


def test_pod_template_hash_pinned_value() -> None:
    # Pins the canonical-JSON construction so the value never drifts between releases.
    assert pod_template_hash({"a": 1}) == "67868497f7"
    assert pod_template_hash({"a": 1}, 0) == "76bc54d77"
    assert pod_template_hash({"a": 1}, 1) == "7499459bfb"


def test_pod_template_hash_collision_count_changes_hash() -> None:
    base = pod_template_hash(TEMPLATE, None)
    zero = pod_template_hash(TEMPLATE, 0)
    one = pod_template_hash(TEMPLATE, 1)
    assert len({base, zero, one}) == 3  # nil and 0 differ: upstream writes 8 bytes for 0


def test_pod_template_hash_sensitive_to_every_field() -> None:
    changed = {**TEMPLATE, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.28"}]}}
    assert pod_template_hash(changed) != pod_template_hash(TEMPLATE)


def test_pod_template_hash_accepts_yaml_timestamps_and_rejects_unknown() -> None:
    stamped = {"metadata": {"annotations": {"t": dt.date(2024, 1, 1)}}}
    assert HASH_SHAPE.fullmatch(pod_template_hash(stamped))
    with pytest.raises(TypeError, match="no canonical JSON form"):
        pod_template_hash({"x": object()})


@given(st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=6))
def test_property_hash_shape(template: dict[str, object]) -> None:
    assert HASH_SHAPE.fullmatch(pod_template_hash(template))


# ---------------------------------------------------------------------------------------------
# random suffix / generateName
# ---------------------------------------------------------------------------------------------


def test_random_suffix_deterministic_and_shaped() -> None:
    s = random_suffix("seed")
    assert s == random_suffix("seed")
    assert SUFFIX_SHAPE.fullmatch(s)
    assert random_suffix("seed") != random_suffix("seed2")
    assert random_suffix("x") == "gllqm"  # pinned
    assert len(random_suffix("long", 123)) == 123
    assert random_suffix("zero", 0) == ""
    with pytest.raises(ValueError):
        random_suffix("neg", -1)


@given(st.text(max_size=30), st.integers(min_value=0, max_value=40))
def test_property_random_suffix_alphabet(seed: str, n: int) -> None:
    out = random_suffix(seed, n)
    assert len(out) == n and set(out) <= set(ALPHANUMS)


def test_generate_name_truncates_base_to_58() -> None:
    assert MAX_GENERATED_NAME_LENGTH == 58
    base = "a" * 70 + "-"
    name = generate_name(base, "s")
    assert len(name) == 63
    assert name.startswith("a" * 58)
    short = generate_name("web-", "s")
    assert short.startswith("web-") and SUFFIX_SHAPE.fullmatch(short[4:])


def test_controller_pod_prefix() -> None:
    assert controller_pod_prefix("web-7d4b9c8f5d") == "web-7d4b9c8f5d-"
    # at the 253-character limit, "<name>-" is not a valid prefix: upstream drops the dash
    long_name = "a" * 253
    assert controller_pod_prefix(long_name) == long_name


# ---------------------------------------------------------------------------------------------
# controller naming
# ---------------------------------------------------------------------------------------------


def test_replicaset_and_deployment_pod_names() -> None:
    h = pod_template_hash(TEMPLATE)
    assert replicaset_name("web", h) == f"web-{h}"
    pod = deployment_pod_name("web", h, 0)
    assert re.fullmatch(rf"web-{h}-[{ALPHANUMS}]{{5}}", pod)
    assert pod == deployment_pod_name("web", h, 0)
    assert pod != deployment_pod_name("web", h, 1)
    # same seed, different deployment: different suffix
    assert pod[-5:] != deployment_pod_name("api", h, 0)[-5:]


def test_long_deployment_pod_name_fits_63() -> None:
    name = deployment_pod_name("d" * 60, "5d659f8d7c", 3)
    assert len(name) == 63
    assert name.startswith("d" * 58)


def test_statefulset_pod_names() -> None:
    assert statefulset_pod_name("db", 0) == "db-0"
    assert statefulset_pod_name("db", 12) == "db-12"
    with pytest.raises(ValueError):
        statefulset_pod_name("db", -1)


def test_daemonset_and_job_pod_names() -> None:
    assert re.fullmatch(rf"kube-proxy-[{ALPHANUMS}]{{5}}", daemonset_pod_name("kube-proxy", "kind-worker"))
    assert re.fullmatch(rf"pi-[{ALPHANUMS}]{{5}}", job_pod_name("pi", 0))


def test_indexed_job_pod_names_keep_index() -> None:
    assert re.fullmatch(rf"pi-3-[{ALPHANUMS}]{{5}}", job_pod_name("pi", 0, completion_index=3))
    long_job = "j" * 60
    name = job_pod_name(long_job, 0, completion_index=12)
    assert len(name) == 63
    assert name[:58] == "j" * 54 + "-12-"


def test_cronjob_job_name_minutes_since_epoch() -> None:
    when = dt.datetime(2025, 1, 15, 10, 30, tzinfo=dt.timezone.utc)  # 1736937000
    assert cronjob_job_name("hello", when) == "hello-28948950"
    assert cronjob_job_name("hello", 1736935800) == "hello-28948930"
    assert cronjob_job_name("hello", 1736935859) == "hello-28948930"  # same minute
    other_zone = when.astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert cronjob_job_name("hello", other_zone) == "hello-28948950"
    with pytest.raises(ValueError, match="no time zone"):
        cronjob_job_name("hello", dt.datetime(2025, 1, 15, 10, 30))
