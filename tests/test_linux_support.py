"""Shared helpers for the real-network tests (root, Linux).

Every cluster a test builds is named ``t<run><n>``: ``<run>`` is random per test session, so the
namespaces of one run (``pn-t<run>…``) can be told from anything else on the machine, and the last
test module (``test_linux_zz_leftovers.py``) checks that none of them is left.

Skipping: these tests need root and Linux. Without them they skip with the reason — except in CI
(``CI=true``), where running as non-root would hide the whole real data plane, so they fail.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterator

import pytest

RUN = os.environ.get("PODNET_TEST_RUN") or secrets.token_hex(3)
os.environ.setdefault("PODNET_TEST_RUN", RUN)
_counter = itertools.count(1)


def missing_requirements() -> str | None:
    if not sys.platform.startswith("linux"):
        return "needs Linux (network namespaces)"
    if os.geteuid() != 0:
        return "needs root (creates network namespaces)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"needs the {tool} command (scripts/setup.sh installs it)"
    return None


def require_root() -> None:
    """Skip (or, in CI, fail) when the real data plane cannot be built here."""
    why = missing_requirements()
    if why is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"real-network test cannot run in CI: {why}")
    pytest.skip(why)


def new_cluster_name() -> str:
    return f"t{RUN}{next(_counter)}"


def run_prefix() -> str:
    return f"pn-t{RUN}"


@pytest.fixture
def cluster_name() -> Iterator[str]:
    """A fresh cluster name; whatever the test leaves is torn down, then checked gone."""
    require_root()
    from podnet.linux import teardown

    name = new_cluster_name()
    try:
        yield name
    finally:
        teardown.teardown(name)
        left = teardown.leftovers(name)
        assert not left, f"left behind: {left}"


def kernel_has(kind: str) -> bool:
    """Whether the kernel can create links of ``kind`` (vxlan, geneve, ipip, dummy…)."""
    from podnet.linux import preflight

    return preflight.link_kind_supported(kind)


def until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``check`` every 0.1 s until it holds (True) or ``timeout`` seconds pass (False): what
    a live change or a probe takes to show is not instantaneous."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False
