"""Runs last among the real-network tests: nothing of this test session's clusters is left on
the machine (no namespace and no /etc/netns folder named ``pn-t<run>…``)."""

from __future__ import annotations

import os

import pytest
from test_linux_support import missing_requirements, run_prefix

pytestmark = pytest.mark.root


def test_no_namespace_of_this_run_is_left() -> None:
    if missing_requirements() is not None:
        pytest.skip(missing_requirements() or "")
    from podnet.linux import netns

    prefix = run_prefix()
    left = [n for n in netns.list_names() if n.startswith(prefix)]
    try:
        etc = [d for d in os.listdir(netns.ETC_NETNS) if d.startswith(prefix)]
    except FileNotFoundError:
        etc = []
    assert left == [] and etc == [], f"left behind by the tests: {left + etc}"
