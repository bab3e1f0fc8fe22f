"""Strict, friendly loading of YAML scenario files into validated pydantic models.

The loader is generic over the pydantic model class: ``load(Scenario, "scenarios/x.yaml")``
reads the file (refusing anything unsafe or ambiguous), follows ``extends:`` chains, applies
``--set dotted.path=value`` overrides and validates the result. Every user mistake surfaces as
one :class:`ScenarioError` whose text reads like compiler output::

    scenarios/x.yaml:12: drivers.security.nk_rate: expected a number >= 0, got -3

A field path as such messages print it (``drivers.security.nk_rate``, ``events[2].date``) is followed by
:func:`locate`, through raw data (``--set``) and validated models (``Scenario.resolve``) alike, so a path that
names nothing is one :class:`ScenarioPathError` with one kind of message everywhere.

Reading rules (stricter than plain ``yaml.safe_load``):

* only plain YAML values are accepted: text, numbers, true/false, null, lists and mappings
  (explicit standard tags such as ``!!str`` are fine; ``!!python/...``, ``!!binary``, ``!!set``
  and custom ``!tags`` are refused - never constructed, let alone executed);
* date-like scalars (``2026-03-01``) stay the exact text written, so schemas see strings;
* mapping keys must be names (text); ``yes:``/``1:``/``null:`` keys are refused, quote them;
* duplicate keys, several documents in one file, an empty file or a top level that is not a
  mapping are refused;
* files over :data:`MAX_FILE_BYTES`, documents that expand to more than :data:`MAX_YAML_NODES`
  values through anchors/aliases ("billion laughs"), self-referencing anchors and nesting deeper
  than :data:`MAX_NESTING` levels are refused before anything large is built.
"""

from __future__ import annotations

import copy
import difflib
import enum
import re
import types
from collections import abc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pydantic
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sim.errors import RapprochementError

__all__ = [
    "MAX_EXTENDS_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NESTING",
    "MAX_YAML_NODES",
    "Location",
    "Problem",
    "ScenarioError",
    "ScenarioPathError",
    "apply_overrides",
    "close_names",
    "deep_merge",
    "load",
    "load_traced",
    "locate",
    "path_keys",
    "read_yaml_mapping",
    "resolve_extends",
    "validate",
]

MAX_FILE_BYTES: int = 1_000_000
"""Files larger than this are refused before parsing."""
MAX_EXTENDS_DEPTH: int = 10
"""A scenario may have at most this many ancestors through ``extends``."""
MAX_YAML_NODES: int = 100_000
"""Upper bound on the values a document may expand to, counting every alias expansion."""
MAX_NESTING: int = 64
"""Upper bound on how deeply lists/mappings may nest (after alias expansion)."""

# Where an override's value came from has no line; origins therefore allow None.
Origin = tuple[str, int | None]


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    """One user mistake.

    ``field`` is a dotted path such as ``drivers.security.nk_rate`` or ``events[2].date``
    ("" when the problem concerns the whole file); ``file`` is set only when the problem lives
    in another file than the :class:`ScenarioError`'s own (e.g. a parent reached through
    ``extends``, or ``--set`` for overrides).
    """

    field: str
    message: str
    line: int | None = None
    file: str | None = None

    def render(self, default_file: str) -> str:
        """One human line: ``file[:line]: [field: ]message``."""
        where = self.file or default_file
        if self.line is not None:
            where = f"{where}:{self.line}"
        parts = [where, self.field, self.message] if self.field else [where, self.message]
        return ": ".join(parts)


class ScenarioError(RapprochementError):
    """A user's mistake in a scenario file or override; ``str(err)`` is one line per problem."""

    def __init__(self, file: str | Path, problems: Sequence[Problem]) -> None:
        self.file: str = str(file)
        self.problems: list[Problem] = list(problems)
        super().__init__(self.file, self.problems)

    def __str__(self) -> str:
        if not self.problems:
            return f"{self.file}: invalid scenario"
        return "\n".join(problem.render(self.file) for problem in self.problems)

    def __reduce__(self) -> tuple[type[ScenarioError], tuple[str, list[Problem]]]:
        # Keep the error picklable (e.g. across multiprocessing workers).
        return (type(self), (self.file, self.problems))


class _Refused(Exception):
    """Internal: problems found while reading YAML text, before a file name is attached."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems


# --------------------------------------------------------------------------- YAML reading

_YAML_TAG = "tag:yaml.org,2002:"
_STR = _YAML_TAG + "str"
_INT = _YAML_TAG + "int"
_FLOAT = _YAML_TAG + "float"
_BOOL = _YAML_TAG + "bool"
_NULL = _YAML_TAG + "null"
_TIMESTAMP = _YAML_TAG + "timestamp"
_SEQ = _YAML_TAG + "seq"
_MAP = _YAML_TAG + "map"
_MERGE = _YAML_TAG + "merge"
_SCALAR_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP})
_CHECKED_SCALAR_TAGS = frozenset({_INT, _FLOAT, _BOOL})  # explicit tags may not fit the text
_NULL_WORDS = frozenset({"~", "null", "Null", "NULL"})


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as the text written (schemas expect ISO strings) and
    stops composing past :data:`MAX_NESTING` levels or :data:`MAX_YAML_NODES` nodes (PyYAML's
    scanner is quadratic in flow nesting and its composer recursive, so hostile input must be
    cut short while it is read, not after)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._composed = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        self._composed += 1
        try:
            if self._depth > MAX_NESTING:
                raise _Refused([_too_deep()])
            if self._composed > MAX_YAML_NODES:
                raise _Refused([_too_many()])
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _timestamp_as_text(loader: yaml.SafeLoader, node: ScalarNode) -> str:
    return str(node.value)


_StrictLoader.add_constructor(_TIMESTAMP, _timestamp_as_text)


def _line(node: Node) -> int | None:
    mark = node.start_mark
    return None if mark is None else mark.line + 1


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _check_size(root: Node) -> None:
    """Refuse alias bombs, self-referencing anchors and absurd nesting.

    Counts every node as often as aliases make it appear, without expanding anything: the
    composed graph is a DAG, so a memoised post-order walk is linear in the text's size.
    """
    done: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded node count, depth)
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            kids = [done[id(child)] for child in _children(node)]
            count = 1 + sum(c for c, _ in kids)
            depth = 1 + max((d for _, d in kids), default=0)
            on_path.discard(key)
            if count > MAX_YAML_NODES:
                raise _Refused([_too_many()])
            if depth > MAX_NESTING:
                raise _Refused([_too_deep()])
            done[key] = (count, depth)
            continue
        if key in done:
            continue
        if key in on_path:
            raise _Refused(
                [
                    Problem(
                        "",
                        "an alias refers to the anchor that contains it (a self-referencing "
                        "structure); refusing to load it",
                        _line(node),
                    )
                ]
            )
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in done)


def _too_deep() -> Problem:
    return Problem("", f"the YAML is nested more than {MAX_NESTING} levels deep")


def _too_many() -> Problem:
    return Problem(
        "",
        f"the YAML expands to more than {MAX_YAML_NODES:,} values "
        "(anchors and aliases included); refusing to load it",
    )


class _Inspector:
    """Walks composed nodes (aliases expanded) to check tags/keys and map paths to lines."""

    def __init__(self, loader: _StrictLoader) -> None:
        self.loader = loader
        self.lines: dict[str, int] = {}
        self.problems: list[Problem] = []
        self.checked: set[int] = set()

    def _first_visit(self, node: Node) -> bool:
        first = id(node) not in self.checked
        self.checked.add(id(node))
        return first

    def visit(self, node: Node, path: str) -> None:
        first = self._first_visit(node)
        if first:
            self._check_tag(node, path)
        if isinstance(node, MappingNode):
            entries = self._entries(node, path, check=first)
            for key, (key_node, value_node) in entries.items():
                child = _join(path, key)
                line = _line(key_node)
                if line is not None:
                    self.lines[child] = line
                self.visit(value_node, child)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                child = f"{path}[{index}]"
                line = _line(item)
                if line is not None:
                    self.lines[child] = line
                self.visit(item, child)

    def _problem(self, field: str, message: str, node: Node) -> None:
        self.problems.append(Problem(field, message, _line(node)))

    def _check_tag(self, node: Node, path: str) -> None:
        tag = node.tag
        if isinstance(node, ScalarNode):
            if tag not in _SCALAR_TAGS:
                self._refuse_tag(node, path)
            elif tag in _CHECKED_SCALAR_TAGS:
                try:
                    self.loader.yaml_constructors[tag](self.loader, node)
                except Exception:  # explicit tag whose text does not fit, e.g. !!int abc
                    self._problem(path, f"{node.value!r} is not a valid {_show_tag(tag)}", node)
        elif isinstance(node, SequenceNode):
            if tag != _SEQ:
                self._refuse_tag(node, path)
        elif isinstance(node, MappingNode) and tag != _MAP:
            self._refuse_tag(node, path)

    def _refuse_tag(self, node: Node, path: str) -> None:
        self._problem(
            path,
            f"the YAML tag {_show_tag(node.tag)} is not allowed; scenario files may only hold "
            "plain values (text, numbers, true/false, null), lists and mappings",
            node,
        )

    def _entries(self, node: MappingNode, path: str, check: bool) -> dict[str, tuple[Node, Node]]:
        """Effective key -> (key node, value node), following ``<<`` merge keys like PyYAML."""
        merged: dict[str, tuple[Node, Node]] = {}
        explicit: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                for source in self._merge_sources(value_node, path, check):
                    source_first = self._first_visit(source)
                    if source_first:
                        self._check_tag(source, path)
                    merged.update(self._entries(source, path, check=source_first))
                continue
            key = self._key(key_node, path, check)
            if key is None:
                continue
            if check and key in explicit:
                first_line = _line(explicit[key][0])
                self._problem(
                    _join(path, key),
                    f"duplicate key '{key}' (already given on line {first_line}); "
                    "YAML would silently keep only the last one",
                    key_node,
                )
            explicit[key] = (key_node, value_node)
        return merged | explicit

    def _merge_sources(self, value: Node, path: str, check: bool) -> list[MappingNode]:
        if isinstance(value, MappingNode):
            return [value]
        if isinstance(value, SequenceNode) and all(isinstance(item, MappingNode) for item in value.value):
            return list(reversed(value.value))  # earlier mappings win, as in PyYAML
        if check:
            self._problem(path, "'<<' (merge key) needs a mapping or a list of mappings", value)
        return []

    def _key(self, node: Node, path: str, check: bool) -> str | None:
        if isinstance(node, ScalarNode) and node.tag in (_STR, _TIMESTAMP):
            return str(node.value)
        if not check:
            return None
        if not isinstance(node, ScalarNode):
            self._problem(path, "keys must be plain names, not lists or mappings", node)
            return None
        text = str(node.value)
        field = _join(path, text)
        if node.tag == _BOOL:
            message = (
                f"the key '{text}' is read by YAML as a true/false value, not a name; put it in quotes: '{text}':"
            )
        elif node.tag in (_INT, _FLOAT):
            message = f"the key {text} is a number, not a name; put it in quotes: '{text}':"
        elif node.tag == _NULL:
            message = "a key is empty (null); keys must be names"
        else:
            message = f"keys must be plain names (got a key tagged {_show_tag(node.tag)})"
        self._problem(field, message, node)
        return None


def _yaml_error_problem(exc: yaml.YAMLError, text: str) -> Problem:
    if isinstance(exc, yaml.reader.ReaderError):
        position = exc.position if isinstance(exc.position, int) else 0
        line = text.count("\n", 0, position) + 1
        char = exc.character
        code = ord(char) if isinstance(char, str) else char
        shown = f"U+{code:04X}" if isinstance(code, int) else repr(code)
        return Problem("", f"the file contains a character YAML does not allow ({shown})", line)
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark
        problem = exc.problem or "invalid YAML"
        message = "YAML syntax error"
        if mark is not None:
            message += f" at column {mark.column + 1}"
        message += f": {problem}"
        if exc.context:
            context_mark = exc.context_mark
            message += f" ({exc.context}"
            if context_mark is not None:
                message += f" that starts on line {context_mark.line + 1}"
            message += ")"
        if "\t" in problem or "'\\t'" in problem:
            message += "; use spaces, not tabs, for indentation"
        return Problem("", message, None if mark is None else mark.line + 1)
    return Problem("", f"invalid YAML: {exc}")


def _fresh_copy(value: Any) -> Any:
    """Deep copy that also un-shares aliased containers (so editing one spot edits one spot)."""
    if isinstance(value, dict):
        return {key: _fresh_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_fresh_copy(item) for item in value]
    if isinstance(value, str | int | float | bool | None):
        return value
    return copy.deepcopy(value)


def _parse(text: str) -> tuple[Node, Any, dict[str, int]] | None:
    """Compose, check and construct one YAML document; None when the stream holds none."""
    try:
        loader = _StrictLoader(text)
    except yaml.YAMLError as exc:
        raise _Refused([_yaml_error_problem(exc, text)]) from None
    try:
        try:
            if not loader.check_node():
                return None
            node = loader.get_node()
            if node is None:
                return None
            if loader.check_node():
                event = loader.peek_event()
                mark = getattr(event, "start_mark", None)
                raise _Refused(
                    [
                        Problem(
                            "",
                            "the file holds more than one YAML document (separated by '---'); "
                            "put everything in a single document",
                            None if mark is None else mark.line + 1,
                        )
                    ]
                )
        except yaml.YAMLError as exc:
            raise _Refused([_yaml_error_problem(exc, text)]) from None
        except RecursionError:
            raise _Refused([_too_deep()]) from None
        _check_size(node)
        inspector = _Inspector(loader)
        inspector.visit(node, "")
        if inspector.problems:
            raise _Refused(inspector.problems)
        try:
            data = loader.construct_document(node)
        except (yaml.YAMLError, ValueError, TypeError, KeyError, OverflowError) as exc:
            raise _Refused([Problem("", f"could not read a value: {exc}", _line(node))]) from None
        return node, _fresh_copy(data), inspector.lines
    finally:
        loader.dispose()


def _read_text(path: Path) -> str:
    def refuse(message: str, line: int | None = None) -> ScenarioError:
        return ScenarioError(path, [Problem("", message, line)])

    try:
        if not path.exists():
            raise refuse("file not found")
        if not path.is_file():
            kind = "a folder" if path.is_dir() else "not a regular file"
            raise refuse(f"expected a YAML file, but this is {kind}")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise refuse(f"the file is too large ({size:,} bytes; the limit is {MAX_FILE_BYTES:,})")
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise refuse(f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise refuse(f"the file is too large (more than {MAX_FILE_BYTES:,} bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise refuse(
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot be decoded); save it as UTF-8",
            line,
        ) from None


def read_yaml_mapping(path: Path | str) -> tuple[dict[str, Any], dict[str, int]]:
    """Read one YAML file strictly and return ``(data, lines)``.

    ``lines`` maps every dotted field path (``"a.b"``, ``"events[0].date"``) to its 1-based
    line. Any problem (missing/unreadable/too big/non-UTF-8 file, YAML syntax, unsafe tags,
    duplicate or non-text keys, several documents, empty file, top level not a mapping, alias
    bombs) raises :class:`ScenarioError`.
    """
    path = Path(path)
    text = _read_text(path)
    try:
        parsed = _parse(text)
    except _Refused as exc:
        raise ScenarioError(path, exc.problems) from None
    if parsed is None or parsed[1] is None:
        raise ScenarioError(
            path,
            [Problem("", "the file is empty; expected settings written as 'key: value' lines")],
        )
    node, data, lines = parsed
    if not isinstance(data, dict):
        raise ScenarioError(
            path,
            [
                Problem(
                    "",
                    f"expected settings written as 'key: value' lines at the top level, got {_show(data)}",
                    _line(node),
                )
            ],
        )
    return data, lines


# --------------------------------------------------------------------------- extends


def _iter_paths(value: Any, prefix: str = "") -> Iterator[str]:
    """Every dotted path inside ``value`` (containers and leaves), parents first."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            path = _join(prefix, str(key))
            yield path
            yield from _iter_paths(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            path = f"{prefix}[{index}]"
            yield path
            yield from _iter_paths(item, path)


def deep_merge(parent: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """New dict: mappings merge key by key with the child winning; lists and scalars replace."""
    result: dict[str, Any] = {key: _fresh_copy(value) for key, value in parent.items()}
    for key, value in child.items():
        base = result.get(key)
        if isinstance(value, Mapping) and isinstance(base, dict):
            result[key] = deep_merge(base, value)
        else:
            result[key] = _fresh_copy(value)
    return result


def resolve_extends(
    path: Path | str, *, key: str = "extends"
) -> tuple[dict[str, Any], dict[str, tuple[str, int]]]:
    """Load ``path`` and its ``extends`` ancestors, deep-merged (see :func:`deep_merge`).

    The ``extends`` value is a path relative to the extending file's folder; the key is removed
    from the result. Returns ``(data, origins)`` where ``origins`` maps each dotted field path
    to the ``(file, line)`` its value came from.
    """
    return _resolve(Path(path), key, [], None)


def _shown(path: Path) -> str:
    """A parent's path as written, and where it leads when it climbs folders (``../../x.yaml``)."""
    return f"{path} (that is, {path.resolve()})" if ".." in path.parts else str(path)


def _resolve(
    path: Path, key: str, chain: list[Path], line_of_extends: int | None
) -> tuple[dict[str, Any], dict[str, tuple[str, int]]]:
    try:
        data, lines = read_yaml_mapping(path)
    except ScenarioError as exc:
        if not chain:
            raise
        # A parent that cannot be read (not YAML, not a mapping, a folder, /etc/passwd): the error names first the
        # file whose 'extends' led there, and where, then what is wrong with the parent.
        child = chain[-1]
        problems = [
            Problem(key, f"the parent file {_shown(path)} cannot be loaded:", line_of_extends),
            *(replace(problem, file=problem.file or exc.file) for problem in exc.problems),
        ]
        raise ScenarioError(child, problems) from None
    name = str(path)
    origins = {field: (name, line) for field, line in lines.items()}
    if key not in data:
        return data, origins
    reference = data.pop(key)
    origins.pop(key, None)
    line = lines.get(key)

    def refuse(message: str) -> ScenarioError:
        return ScenarioError(path, [Problem(key, message, line)])

    if not isinstance(reference, str) or not reference.strip():
        raise refuse(f"expected the path of another scenario file, got {_show(reference)}")
    chain = [*chain, path]
    parent = path.parent / reference
    seen = [link.resolve() for link in chain]
    target = parent.resolve()
    if target in seen:
        cycle = [*chain[seen.index(target) :], parent]
        raise refuse(f"circular '{key}': {' -> '.join(str(link) for link in cycle)}")
    if len(chain) > MAX_EXTENDS_DEPTH:
        route = " -> ".join(str(link) for link in [*chain, parent])
        raise refuse(f"too many levels of '{key}' (the limit is {MAX_EXTENDS_DEPTH}): {route}")
    if not parent.exists():
        raise refuse(f"the parent file {_shown(parent)} does not exist")
    parent_data, parent_origins = _resolve(parent, key, chain, line)
    merged = deep_merge(parent_data, data)
    combined: dict[str, tuple[str, int]] = {}
    for field in _iter_paths(merged):
        origin = origins.get(field) or parent_origins.get(field)
        if origin is not None:
            combined[field] = origin
    return merged, combined


# --------------------------------------------------------------------------- dotted paths

#: A field path as errors print it and ``--set`` takes it: names joined by dots, list positions in brackets.
_FIELD_PATH = re.compile(r"[^.\[\]=]+(?:\[\d+\])*(?:\.[^.\[\]=]+(?:\[\d+\])*)*")
_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class ScenarioPathError(RapprochementError, KeyError, ValueError):
    """A dotted path (``drivers.security.nk_rate``, ``events[2].date``) that names nothing in a scenario.

    ``str(err)`` is ``path: reason``; the reason names the part that failed, suggests close names and lists the
    valid ones. It is a KeyError to code that looks a field up and a ValueError to code that checks a parameter
    (a pydantic validator raising it reports a field error).
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class Location:
    """Where a dotted path leads: the keys followed (field names, list positions, mapping keys as stored - an
    alias such as ``from`` becomes its field's name), the container that holds the value, and the value."""

    keys: tuple[str | int, ...]
    parent: Any
    value: Any


def path_keys(path: str) -> list[str | int]:
    """The parts of a field path: ``"events[2].date"`` -> ``["events", 2, "date"]``.

    Raises :class:`ScenarioPathError` when ``path`` is not written like one.
    """
    if not _FIELD_PATH.fullmatch(path):
        raise ScenarioPathError(
            path, "not a valid field path; write it like drivers.security.nk_rate or events[2].date"
        )
    return [name if name else int(index) for name, index in _PATH_TOKEN.findall(path)]


def close_names(name: str, names: Sequence[str], n: int = 3) -> list[str]:
    """The names of ``names`` that ``name`` is likely a misspelling of, closest first (for "did you mean")."""
    return difflib.get_close_matches(name, list(names), n=n, cutoff=0.6)


def _members(node: Any) -> tuple[dict[str, Any], list[str]] | None:
    """What a name can follow from ``node``: name -> key (a model's fields by name and by alias, a mapping's keys)
    and the names to show; None when ``node`` holds no names."""
    if isinstance(node, pydantic.BaseModel):
        keys: dict[str, Any] = {}
        shown = []
        for name, field in type(node).model_fields.items():
            keys[name] = name
            if field.alias:
                keys[field.alias] = name
            shown.append(field.alias or name)  # as written in files
        return keys, shown
    if isinstance(node, Mapping):
        keys = {str(key): key for key in node}
        return keys, list(keys)
    return None


def locate(root: Any, path: str) -> Location:
    """Follow ``path`` through ``root``: pydantic models (a field by its name or alias), mappings and lists.

    Serves raw data (``--set`` on a file before validation) and validated scenarios alike, so every path is
    checked, and every mistake explained, the same way. Raises :class:`ScenarioPathError` naming the part that
    does not exist, with a "did you mean" and the valid names where there are some.
    """
    keys: list[str | int] = []
    parent: Any = None
    current = root
    walked = ""
    for token in path_keys(path):
        if isinstance(token, int):
            if not isinstance(current, list | tuple):
                raise ScenarioPathError(path, f"{walked} is not a list (it holds {_show(current)})")
            if token >= len(current):
                raise ScenarioPathError(path, f"{walked} has {len(current)} items, so there is no [{token}]")
            parent, current = current, current[token]
            keys.append(token)
            walked = f"{walked}[{token}]"
            continue
        members = _members(current)
        if members is None:
            where = walked or "the top level"
            raise ScenarioPathError(
                path, f"{where} is not a mapping (it holds {_show(current)}), so it has no '{token}'"
            )
        by_name, shown = members
        if token not in by_name:
            raise ScenarioPathError(path, _unknown_field(token, walked, shown))
        key = by_name[token]
        parent = current
        current = getattr(current, key) if isinstance(current, pydantic.BaseModel) else current[key]
        keys.append(key)
        walked = _join(walked, token)
    return Location(tuple(keys), parent, current)


def _unknown_field(name: str, walked: str, names: Sequence[str]) -> str:
    """Why ``name`` is not a field of the block at ``walked``: did-you-mean first, then the valid names."""
    where = f"in {walked}" if walked else "at the top level"
    message = f"unknown field '{name}' {where}"
    close = close_names(name, names)
    if close:
        message += f"; did you mean {' or '.join(_join(walked, c) for c in close)}?"
    if names:
        message += f" (valid fields here: {_list_names(names)})"
    return message


def _list_names(names: Sequence[str], limit: int = 30) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


# --------------------------------------------------------------------------- overrides

_YAML_SYNTAX_STARTS = frozenset("[{\"'!&*")


def _parse_override_value(text: str) -> Any:
    """A ``--set`` value: a YAML scalar or flow collection; anything else is taken as text.

    Only values that look like YAML syntax (flow collections, quotes, tags, anchors/aliases)
    must parse; ``Crisis: part: 2`` or ``@handle`` are simply text.
    """
    try:
        parsed = _parse(text)
    except _Refused as exc:
        if text.lstrip()[:1] not in _YAML_SYNTAX_STARTS:
            return text
        raise _Refused(
            [Problem("", f"could not read the value {text!r}: {p.message}") for p in exc.problems]
        ) from None
    if parsed is None:
        return text  # "" or a lone comment such as "#1"
    node, value, _ = parsed
    if isinstance(node, MappingNode | SequenceNode) and not node.flow_style:
        return text  # "Crisis: part 2" means the text, not a one-entry mapping
    if value is None and text.strip() not in _NULL_WORDS:
        return text  # e.g. "" or "#1" (YAML would read a comment as null)
    return value


def _apply_overrides(
    data: Mapping[str, Any], overrides: Sequence[str], source: str
) -> tuple[dict[str, Any], list[str]]:
    result: dict[str, Any] = _fresh_copy(dict(data))
    applied: list[str] = []
    problems: list[Problem] = []
    for override in overrides:
        path, sep, raw_value = override.partition("=")
        path = path.strip()
        if not sep or not path:
            problems.append(Problem("", f"expected dotted.path=value, got {override!r}"))
            continue
        try:
            path_keys(path)  # a malformed path is reported before its value is read
        except ScenarioPathError as exc:
            problems.append(Problem(path, exc.reason))
            continue
        try:
            value = _parse_override_value(raw_value)
        except _Refused as exc:
            problems.extend(Problem(path, p.message) for p in exc.problems)
            continue
        try:
            found = locate(result, path)  # an override may only change a field that is there
        except ScenarioPathError as exc:
            problems.append(Problem(path, exc.reason))
            continue
        found.parent[found.keys[-1]] = value
        applied.append(path)
    if problems:
        raise ScenarioError(source, problems)
    return result, applied


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str], *, source: str = "--set") -> dict[str, Any]:
    """Return a copy of ``data`` with each ``dotted.path=value`` override applied in order.

    Paths use the same notation as error messages (``events[2].date``) and must already exist.
    Values are read as YAML scalars or flow collections (``3``, ``0.5``, ``true``, ``[1, 2]``,
    ``{a: 1}``); dates stay text, ``null``/``~`` give null and an empty value gives ``""``.
    All problems are reported together as one :class:`ScenarioError` named after ``source``.
    """
    result, _ = _apply_overrides(data, overrides, source)
    return result


# --------------------------------------------------------------------------- validation


def _show(value: Any) -> str:
    """A short, YAML-flavoured rendering of an input value for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, Mapping | pydantic.BaseModel):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "an empty list" if not value else "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any) -> str:
    """Bounds as written by a person: 1.0 -> "1", 0.25 -> "0.25"."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _loc_to_path(loc: tuple[int | str, ...], data: Any, error_type: str) -> str:
    """Dotted path of a pydantic ``loc``, skipping union/validator tags that are not data."""
    path = ""
    current: Any = data
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(part, int) and isinstance(current, list) and 0 <= part < len(current):
            path = f"{path}[{part}]"
            current = current[part]
        elif (
            isinstance(part, str)
            and isinstance(current, Mapping)
            and (part in current or (last and error_type == "missing"))
        ):
            path = _join(path, part)
            current = current.get(part)
    return path


def _strip_annotation(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [arg for arg in get_args(tp) if arg is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def _tag_matches(model: type[pydantic.BaseModel], tag: str) -> bool:
    if model.__name__ == tag:
        return True
    for field in model.model_fields.values():
        annotation = _strip_annotation(field.annotation)
        if get_origin(annotation) is Literal and tag in get_args(annotation):
            return True
    return False


def _step(tp: Any, part: int | str) -> Any:
    """The annotation reached from ``tp`` by one ``loc`` part (tags keep ``tp``)."""
    tp = _strip_annotation(tp)
    origin = get_origin(tp)
    args = get_args(tp)
    if _is_model(tp):
        if isinstance(part, str):
            for name, field in tp.model_fields.items():
                if part in (name, field.alias):
                    return field.annotation
        return tp
    if origin in (list, set, frozenset, abc.Sequence, abc.Set, abc.MutableSequence):
        return args[0] if isinstance(part, int) and args else tp
    if origin is tuple:
        if not isinstance(part, int) or not args:
            return tp
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
        return args[part] if part < len(args) else None
    if origin in (dict, abc.Mapping, abc.MutableMapping):
        return None if part == "[key]" or len(args) != 2 else args[1]
    if origin in (Union, types.UnionType):
        models = [arg for arg in args if _is_model(arg)]
        if isinstance(part, str):
            for model in models:
                if _tag_matches(model, part):
                    return model
        if len(models) == 1:
            return _step(models[0], part)
        return None
    return tp


def _valid_fields(model_cls: type[pydantic.BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    tp: Any = model_cls
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    tp = _strip_annotation(tp)
    if not _is_model(tp):
        return []
    names: list[str] = []
    for name, field in tp.model_fields.items():
        alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
        names.append(alias or name)
    return names


def _allowed_values(model_cls: type[pydantic.BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The values an enum or literal field at ``loc`` accepts, as written in files ([] when not found)."""
    tp: Any = model_cls
    is_key = bool(loc) and loc[-1] == "[key]"
    for part in loc[:-2] if is_key else loc:  # a mapping's key: its annotation, not its value's
        tp = _step(tp, part)
        if tp is None:
            return []
    tp = _strip_annotation(tp)
    if is_key:
        args = get_args(tp)
        tp = _strip_annotation(args[0]) if get_origin(tp) in (dict, abc.Mapping) and args else None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return [str(member.value) for member in tp]
    if get_origin(tp) is Literal:
        return [str(arg) for arg in get_args(tp)]
    return []


def _did_you_mean(value: Any, allowed: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` when ``value`` is text close to one of ``allowed``, else ""."""
    close = close_names(value, allowed) if isinstance(value, str) else []
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


#: Up to this many allowed values are all listed when a value is not one of them; past it, a close match is
#: suggested alone (the full list is given only when nothing is close).
_LISTED_VALUES = 10


_TYPE_EXPECTATIONS = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "decimal_type": "a number",
    "decimal_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "string_unicode": "text",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "frozen_set_type": "a list",
    "iterable_type": "a list",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
    "dataclass_type": "a mapping (key: value lines)",
    "date_type": "a date (YYYY-MM-DD)",
    "date_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "datetime_type": "a date and time (YYYY-MM-DDTHH:MM:SS)",
    "datetime_parsing": "a date and time (YYYY-MM-DDTHH:MM:SS)",
    "finite_number": "a finite number",
    "none_required": "null",
}

_COMPARISONS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


def _describe(error: Mapping[str, Any], model_cls: type[pydantic.BaseModel]) -> str:
    """Plain-words message for one pydantic error (never a pydantic URL)."""
    kind: str = error["type"]
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    loc: tuple[int | str, ...] = tuple(error["loc"])
    value = error.get("input")
    got = f", got {_show(value)}"
    if kind == "missing":
        return "required field missing"
    if kind == "extra_forbidden":
        names = _valid_fields(model_cls, loc[:-1])
        message = "unknown field"
        if names:
            message += f" (valid fields here: {_list_names(names)})"
            close = close_names(str(loc[-1]) if loc else "", names, n=1)
            if close:
                message += f"; did you mean '{close[0]}'?"
        return message
    if kind in _TYPE_EXPECTATIONS:
        return f"expected {_TYPE_EXPECTATIONS[kind]}{got}"
    if kind in _COMPARISONS:
        key, symbol = _COMPARISONS[kind]
        return f"expected a number {symbol} {_number(ctx.get(key))}{got}"
    if kind == "multiple_of":
        return f"expected a multiple of {_number(ctx.get('multiple_of'))}{got}"
    if kind == "string_too_short":
        return f"expected text of at least {ctx.get('min_length')} characters{got}"
    if kind == "string_too_long":
        return f"expected text of at most {ctx.get('max_length')} characters{got}"
    if kind == "string_pattern_mismatch":
        return f"expected text matching the pattern {ctx.get('pattern')}{got}"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} items, got {ctx.get('actual_length')}"
    if kind == "too_long":
        return f"expected at most {ctx.get('max_length')} items, got {ctx.get('actual_length')}"
    if kind in ("literal_error", "enum"):
        allowed = _allowed_values(model_cls, loc)
        hint = _did_you_mean(value, allowed)
        if hint and len(allowed) > _LISTED_VALUES:
            return f"expected one of {len(allowed)} values{got}{hint}"
        return f"expected {ctx.get('expected')}{got}{hint}"
    if kind == "union_tag_invalid":
        tags = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
        return (
            f"expected {ctx.get('discriminator')} to be one of {ctx.get('expected_tags')}, "
            f"got {_show(ctx.get('tag'))}{_did_you_mean(ctx.get('tag'), tags)}"
        )
    if kind == "union_tag_not_found":
        return f"required field {ctx.get('discriminator')} missing"
    message = str(error.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if message[:1].isupper() and not message[1:2].isupper():
        message = message[0].lower() + message[1:]
    if "got" not in message and not isinstance(value, Mapping | list):
        message += got
    return message


def _origin_of(path: str, origins: Mapping[str, Origin] | None) -> tuple[str | None, int | None]:
    """(file, line) of ``path`` or, failing that, of its nearest ancestor."""
    if not origins:
        return None, None
    while path:
        found = origins.get(path)
        if found is not None:
            return found
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None, None


def validate[M: pydantic.BaseModel](
    model_cls: type[M],
    data: Mapping[str, Any],
    *,
    file: str | Path,
    origins: Mapping[str, Origin] | None = None,
) -> M:
    """``model_cls.model_validate(data)``, with pydantic errors turned into a ScenarioError.

    One :class:`Problem` per failing field (pydantic's per-union-member errors for the same
    field are joined). ``origins`` (field path -> (file, line), as from
    :func:`resolve_extends`) supplies lines and, for values inherited from a parent file or set
    by an override, that file's name.
    """
    try:
        return model_cls.model_validate(data)
    except pydantic.ValidationError as exc:
        top = str(file)
        grouped: dict[tuple[str, str | None, int | None], list[str]] = {}
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            path = _loc_to_path(loc, data, error["type"])
            origin_file, line = _origin_of(path, origins)
            problem_file = None if origin_file in (None, top) else origin_file
            messages = grouped.setdefault((path, problem_file, line), [])
            message = _describe(error, model_cls)
            if message not in messages:
                messages.append(message)
        problems = [
            Problem(path, "; or ".join(messages), line, problem_file)
            for (path, problem_file, line), messages in grouped.items()
        ]
        raise ScenarioError(top, problems) from None


def load[M: pydantic.BaseModel](model_cls: type[M], path: str | Path, overrides: Sequence[str] = ()) -> M:
    """Read ``path`` (following ``extends``), apply ``--set`` overrides and validate."""
    return load_traced(model_cls, path, overrides)[0]


def load_traced[M: pydantic.BaseModel](
    model_cls: type[M], path: str | Path, overrides: Sequence[str] = ()
) -> tuple[M, dict[str, Origin]]:
    """:func:`load`, and where each field was written (field path -> (file, line)): a field naming another file
    is read relative to the file that wrote it."""
    data, file_origins = resolve_extends(path)
    origins: dict[str, Origin] = dict(file_origins)
    if overrides:
        data, applied = _apply_overrides(data, overrides, "--set")
        for field in applied:
            for known in list(origins):
                if known == field or known.startswith((f"{field}.", f"{field}[")):
                    del origins[known]
            origins[field] = ("--set", None)
    return validate(model_cls, data, file=path, origins=origins), origins
