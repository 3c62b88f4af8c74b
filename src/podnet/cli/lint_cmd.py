"""``podnet lint``: networking misconfigurations of the manifests, each with its fix.

``podnet lint [-f PATH…] [-o text|json|sarif] [--fail-on warning|error] [--ignore RULE[:OBJ]]…
[--ignore-file FILE] [--rule GLOB]… [--list-rules]``

The manifests of ``-f`` (or the stored cluster without ``-f``) are admitted as ``apply`` would
admit them, then every rule of :mod:`podnet.sim.lint` runs. Text output is compiler style
(``file:line: severity: message [rule]``, then the object, field and fix); ``-o json`` is
``{"findings": [{rule, severity, object: {kind, namespace, name}, field, message, fix, file,
line}]}``; ``-o sarif`` a SARIF 2.1.0 log (paths relative to the current directory). Exit 1 when
a finding reaches ``--fail-on`` (default error), else 0; invalid manifests are reported as
``apply`` reports them (exit 1).

Silencing: ``# podnet:ignore=RULE[,RULE]`` comments in the YAML, the annotation
``podnet.io/lint-ignore: "RULE,…"`` on an object, ``--ignore RULE`` or ``RULE:Kind/ns/name``
(globs), and an ignore file (``--ignore-file``; ``.podnetignore`` in the current directory is read
when present): one entry per line, ``#`` comments.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as pkg_version
from pathlib import Path

import click

from podnet.api.loader import ManifestError, read_paths
from podnet.api.meta import parse_time
from podnet.cli import store
from podnet.cli.context import (
    CliError,
    apply_config_flags,
    common_options,
    no_cluster,
    options,
    output_format,
)
from podnet.cli.printers import to_json
from podnet.cluster.config import DEFAULT
from podnet.sim.findings import Severity
from podnet.sim.lint import (
    IgnoreEntry,
    LintContext,
    all_rules,
    context_from,
    lint,
    parse_ignore_list,
    to_text,
)
from podnet.sim.sarif import to_sarif

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
FORMATS = ("text", "json", "sarif")
IGNORE_FILE = ".podnetignore"


def podnet_version() -> str:
    try:
        return pkg_version("podnet")
    except PackageNotFoundError:  # pragma: no cover
        return "0.0.0"


def read_texts(paths: list[str], stdin_text: str | None) -> dict[str, str]:
    """The text of every manifest file the ``-f`` arguments name (for lines and comments)."""
    texts: dict[str, str] = {}
    if stdin_text is not None:
        texts["-"] = stdin_text
    from podnet.api.loader import iter_manifest_files

    for arg in paths:
        if arg == "-":
            continue
        p = Path(arg)
        files = list(iter_manifest_files(p)) if p.is_dir() else [p] if p.exists() else []
        for f in files:
            try:
                texts[str(f)] = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
    return texts


def _now(text: str | None) -> datetime:
    if not text:
        return datetime.now(timezone.utc)
    t = parse_time(text)
    if t is None:
        raise CliError(f'error: --now "{text}": expected an RFC 3339 time')
    return t


def ignore_entries(ignore: tuple[str, ...], ignore_file: str | None) -> list[IgnoreEntry]:
    entries = parse_ignore_list(ignore)
    path = ignore_file or (IGNORE_FILE if os.path.exists(IGNORE_FILE) else None)
    if path:
        try:
            entries += parse_ignore_list(Path(path).read_text(encoding="utf-8").splitlines())
        except OSError as e:
            raise CliError(f"error: cannot read ignore file {path}: {e.strerror or e}") from e
    return entries


@click.command("lint", context_settings=CONTEXT_SETTINGS)
@common_options
@click.option("--fail-on", "fail_on", type=click.Choice(["warning", "error"]), default="error",
              show_default=True, help="Exit 1 when a finding has this severity or a worse one.")
@click.option("--ignore", "ignore", multiple=True, metavar="RULE[:KIND/NS/NAME]",
              help="Silence a rule (everywhere, or for one object); globs; repeatable.")
@click.option("--ignore-file", "ignore_file", metavar="FILE",
              help=f"An ignore list, one entry per line (default: {IGNORE_FILE} when present).")
@click.option("--rule", "rules", multiple=True, metavar="GLOB",
              help="Run only the rules whose id matches; repeatable.")
@click.option("--list-rules", is_flag=True, help="List every rule and exit.")
@click.option("--now", "now", metavar="TIME", hidden=True,
              help="The time certificates are judged at (RFC 3339; default: now).")
@click.pass_context
def lint_cmd(ctx: click.Context, fail_on: str, ignore: tuple[str, ...], ignore_file: str | None,
             rules: tuple[str, ...], list_rules: bool, now: str | None) -> None:
    """Find networking misconfigurations: each finding says what happens at runtime and the fix.

    Reads the manifests of -f PATH… (or the stored cluster). -o text|json|sarif.
    """
    opts = options(ctx)
    fmt = output_format(opts.output, FORMATS, "text")
    if list_rules:
        catalogue = all_rules()
        if fmt == "json":
            click.echo(to_json({"rules": [
                {"id": r.id, "severity": r.severity, "category": r.category, "summary": r.summary,
                 "help": r.help} for r in catalogue.values()]}), nl=False)
            return
        width = max(len(r) for r in catalogue)
        for r in catalogue.values():
            click.echo(f"{r.id:<{width}}  {r.severity:<7}  {r.summary}")
        return
    when = _now(now)
    texts: dict[str, str] = {}
    if opts.filenames:
        stdin_text = sys.stdin.read() if "-" in opts.filenames else None
        result = read_paths(opts.filenames, stdin_text)
        if result.errors:
            raise ManifestError(result.errors)
        config = apply_config_flags(opts, DEFAULT)
        lctx = context_from(result, config, namespace=opts.ns, now=when)
        texts = read_texts(opts.filenames, stdin_text)
    else:
        stored = store.load_stored(opts.cluster_name)
        if stored is None:
            raise no_cluster(opts.cluster_name)
        lctx = LintContext(stored.state, now=when)
    report = lint(lctx, texts=texts, ignore=ignore_entries(ignore, ignore_file),
                  only=list(rules) if rules else None)
    if fmt == "json":
        click.echo(to_json(report.to_dict()), nl=False)
    elif fmt == "sarif":
        doc = to_sarif(report.findings, report.rules, version=podnet_version(), root=os.getcwd())
        click.echo(to_json(doc), nl=False)
    else:
        click.echo(to_text(report), nl=False)
    severity: Severity = "warning" if fail_on == "warning" else "error"
    if report.fails(severity):
        ctx.exit(1)


__all__ = ["lint_cmd", "read_texts"]
