"""The rule of the house: the pure core never touches I/O.

api, cluster, plugins, proxy, policy, dns, ingress and sim must not import asyncio, socket, ssl,
subprocess, pyroute2 or the I/O shells (linux, servers, cli). Checked on the source, by package
name, so that a violation fails here before it spreads.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "podnet"
PURE = ("api", "cluster", "plugins", "proxy", "policy", "dns", "ingress", "sim")
FORBIDDEN = (
    "asyncio",
    "socket",
    "ssl",
    "subprocess",
    "pyroute2",
    "uvloop",
    "podnet.linux",
    "podnet.servers",
    "podnet.cli",
)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the package
                pkg = path.relative_to(SRC.parent).parent.parts
                base = ".".join(pkg[: len(pkg) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            found.append((node.lineno, mod))
            found.extend((node.lineno, f"{mod}.{a.name}") for a in node.names)
    return found


def _pure_files() -> list[Path]:
    return sorted(p for pkg in PURE for p in (SRC / pkg).rglob("*.py"))


def test_pure_packages_exist() -> None:
    for pkg in PURE:
        assert (SRC / pkg / "__init__.py").is_file(), pkg


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_pure_module_imports_no_io(path: Path) -> None:
    bad = [
        f"{path.relative_to(SRC)}:{line}: imports {name}"
        for line, name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]
    assert not bad, "\n".join(bad)


def test_the_checker_catches_a_violation(tmp_path: Path) -> None:
    """The check itself must be able to fail."""
    bad = tmp_path / "bad.py"
    bad.write_text("import socket\nfrom asyncio import sleep\n")
    names = [n for _, n in _imports(bad)]
    assert "socket" in names and "asyncio" in names
