"""Where a field is written: a field path (``spec.ports[0].targetPort``) → its line in the file.

The text is composed (not constructed) into YAML nodes, which keep their marks; a path is walked
through mapping keys and sequence items. A field that is not written (defaulted by the API
server, say) resolves to its nearest written ancestor, so a finding always points at something.
Documents are numbered as :mod:`podnet.api.loader` numbers them (1-based, empty ones counted),
so that a :class:`~podnet.api.loader.Source` and a :class:`SourceText` agree.

It also reads ``# podnet:ignore=RULE[,RULE…]`` comments, as linters read theirs:

* in a document's header (full-line comments before its first key) the comment silences the
  rules for the whole object;
* on a line of its own elsewhere, for the node that starts on the next line (a key and its whole
  value, or a sequence item);
* after content on a line, for the node that starts on that line.

``all`` (or ``*``) silences every rule. Pure over text: no file is read here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml

try:
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

_IGNORE = re.compile(r"(?:^|\s)#\s*podnet:ignore=([A-Za-z0-9_,*\-]+)")
_TOKEN = re.compile(r"""\.?([A-Za-z_$][\w\-$]*)|\[(\d+)\]|\[\s*(['"])(.*?)\3\s*\]""")


def parse_path(path: str) -> list[str | int]:
    """``spec.rules[0].http.paths[1]`` → ``["spec", "rules", 0, "http", "paths", 1]``; a key with
    dots or slashes is written in brackets: ``metadata.annotations['a.b/c']``."""
    out: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None or m.end() == pos:
            break
        if m.group(1) is not None:
            out.append(m.group(1))
        elif m.group(2) is not None:
            out.append(int(m.group(2)))
        else:
            out.append(m.group(4))
        pos = m.end()
    return out


def _end_line(node: yaml.Node) -> int:
    """1-based last line of ``node``'s text (a block's end mark sits at the next line's column 0)."""
    end = node.end_mark
    return end.line if end.column == 0 and end.line > node.start_mark.line else end.line + 1


@dataclass(slots=True)
class _Document:
    root: yaml.Node | None
    first_line: int  # 1-based line of the first content
    last_line: int
    #: (start line, end line) of every key+value and sequence item, for node-wide ignores
    spans: dict[int, int] = field(default_factory=dict)


@dataclass(slots=True)
class SourceText:
    """One file's text, composed on first use."""

    path: str
    text: str
    _docs: list[_Document] | None = None
    _line_ignores: dict[int, set[str]] | None = None
    _doc_ignores: dict[int, set[str]] | None = None

    # ------------------------------------------------------------------ composition

    @property
    def documents(self) -> list[_Document]:
        if self._docs is None:
            self._docs = list(self._compose())
        return self._docs

    def _compose(self) -> Iterator[_Document]:
        loader = _Loader(self.text)
        try:
            while loader.check_node():
                node = loader.get_node()
                if node is None:
                    yield _Document(None, 1, 1)
                    continue
                doc = _Document(node, node.start_mark.line + 1, _end_line(node))
                _spans(node, doc.spans)
                yield doc
        except yaml.YAMLError:
            return
        finally:
            loader.dispose()

    def _document(self, document: int) -> _Document | None:
        docs = self.documents
        if 1 <= document <= len(docs):
            return docs[document - 1]
        return None

    # ------------------------------------------------------------------ lines

    def line(self, document: int, path: str | list[str | int]) -> int | None:
        """The line of ``path`` in ``document`` (1-based), or of its nearest written ancestor;
        None when the document does not exist."""
        doc = self._document(document)
        if doc is None:
            return None
        node = doc.root
        if node is None:
            return doc.first_line
        line = node.start_mark.line + 1
        steps = parse_path(path) if isinstance(path, str) else path
        for step in steps:
            if isinstance(node, yaml.MappingNode) and isinstance(step, str):
                found = None
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == step:
                        found = (k, v)
                        break
                if found is None:
                    break
                line = found[0].start_mark.line + 1
                node = found[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
                if step >= len(node.value):
                    break
                node = node.value[step]
                line = node.start_mark.line + 1
            else:
                break
        return line

    # ------------------------------------------------------------------ ignores

    def _scan_ignores(self) -> None:
        line_ignores: dict[int, set[str]] = {}
        doc_ignores: dict[int, set[str]] = {}
        lines = self.text.splitlines()
        docs = self.documents
        for i, raw in enumerate(lines):
            m = _IGNORE.search(raw)
            if m is None:
                continue
            rules = {r.strip() for r in m.group(1).split(",") if r.strip()}
            rules = {"*" if r in ("all", "*") else r for r in rules}
            own_line = not raw[: m.start()].strip() or raw.lstrip().startswith("#")
            lineno = i + 1
            if own_line:
                target = _next_content_line(lines, i + 1)
                if target is None:
                    continue
                header_of = next(
                    (n + 1 for n, d in enumerate(docs) if d.root is not None and d.first_line == target),
                    None,
                )
                if header_of is not None:
                    doc_ignores.setdefault(header_of, set()).update(rules)
                    continue
            else:
                target = lineno
            end = self._span_end(target)
            for ln in range(target, end + 1):
                line_ignores.setdefault(ln, set()).update(rules)
        self._line_ignores = line_ignores
        self._doc_ignores = doc_ignores

    def _span_end(self, line: int) -> int:
        for d in self.documents:
            if d.first_line <= line <= d.last_line:
                return max(line, d.spans.get(line, line))
        return line

    def ignored(self, rule: str, document: int, line: int | None) -> bool:
        """Whether a ``podnet:ignore`` comment silences ``rule`` at this document and line."""
        if self._line_ignores is None or self._doc_ignores is None:
            self._scan_ignores()
        assert self._line_ignores is not None and self._doc_ignores is not None
        whole = self._doc_ignores.get(document, ())
        if rule in whole or "*" in whole:
            return True
        if line is None:
            return False
        here = self._line_ignores.get(line, ())
        return rule in here or "*" in here


def _next_content_line(lines: list[str], start: int) -> int | None:
    """1-based number of the first line at or after index ``start`` holding YAML content."""
    for j in range(start, len(lines)):
        s = lines[j].strip()
        if not s or s.startswith("#") or s == "---" or s.startswith("--- ") or s == "...":
            continue
        return j + 1
    return None


def _spans(node: yaml.Node, out: dict[int, int]) -> None:
    """Record, per start line, the last line of the widest key+value or item starting there."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                start = k.start_mark.line + 1
                end = max(_end_line(v), start)
                if end > out.get(start, 0):
                    out[start] = end
                stack.append(v)
        elif isinstance(n, yaml.SequenceNode):
            for item in n.value:
                start = item.start_mark.line + 1
                end = _end_line(item)
                if end > out.get(start, 0):
                    out[start] = end
                stack.append(item)


__all__ = ["SourceText", "parse_path"]
