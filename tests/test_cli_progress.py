"""``podnet up``'s progress display: the daemon's real log lines drive the bars; off a terminal
the lines pass through unchanged (CI logs and scripts read them)."""

from __future__ import annotations

import io

from podnet.cli.progress import BuildProgress, ProgressDisplay

# what the daemon logged for `podnet up -f examples/shop --plugin calico:vxlan`
LOG = """building cluster lb (calico:vxlan, 3 nodes, 12 pods)
underlay pn-lb-underlay
outside pn-lb-outside (172.18.0.1)
node control-plane: pn-lb-node-control-plane (172.18.0.2)
node worker: pn-lb-node-worker (172.18.0.3)
node worker2: pn-lb-node-worker2 (172.18.0.4)
node control-plane: devices
node worker: devices
node worker2: devices
node control-plane: 2 pods wired
node worker: 5 pods wired
node worker2: 5 pods wired
nftables loaded on 3 node(s)
ready in 0.43s: 3 nodes, 12/12 pods serving, 2 port-forward(s)""".splitlines()


def test_the_log_lines_advance_each_phase_to_its_total() -> None:
    p = BuildProgress()
    for line in LOG[:1]:
        p = p.advance(line)
    assert (p.plugin, p.nodes, p.pods) == ("calico:vxlan", 3, 12)
    assert all(done == 0 for _, done, _ in p.bars())
    for line in LOG[1:11]:
        p = p.advance(line)
    assert dict((label, (d, t)) for label, d, t in p.bars()) == {
        "node namespaces": (3, 3), "node devices": (3, 3), "pods wired": (7, 12),
        "nftables per node": (0, 3)}
    assert not p.ready
    for line in LOG[11:]:
        p = p.advance(line)
    assert all(done == total for _, done, total in p.bars()) and p.ready and not p.failed


def test_an_error_line_marks_the_build_failed() -> None:
    p = BuildProgress().advance(LOG[0]).advance("error: nft -f failed on node worker: …")
    assert p.failed and not p.ready


def test_off_a_terminal_the_lines_pass_through_unchanged() -> None:
    out = io.StringIO()
    with ProgressDisplay(out) as show:
        assert not show.live
        for line in LOG + ["warning: :smile: [bold]kept[/bold]"]:
            show(line)
    assert out.getvalue().splitlines() == [f"  {line}" for line in LOG] + ["warning: :smile: [bold]kept[/bold]"]


def test_on_a_terminal_the_bars_reach_their_totals_and_errors_still_print() -> None:
    out = io.StringIO()
    with ProgressDisplay(out, force_terminal=True) as show:
        assert show.live
        for line in LOG[:-1]:
            show(line)
        show("warning: node worker2: sysctl net.ipv4.conf.all.rp_filter is read-only")
        show(LOG[-1])
    text = out.getvalue()
    assert "pods wired" in text and "12/12" in text and "3/3" in text
    assert "warning: node worker2: sysctl" in text and "ready in 0.43s" in text
    assert "underlay pn-lb-underlay" not in text  # routine lines become bars, not scrollback
