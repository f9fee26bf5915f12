"""YAML loading that remembers where each value came from, within bounds.

PyYAML's node tree carries a line for every key and value; we keep a map from the path of each
value (``("presets", "code", "temperature")``) to its 1-based line, so validation errors can
point at ``file:line``. Duplicate keys, which PyYAML would silently collapse, are errors.

Bounds, each refused with a :class:`ConfigError` that names the file and the line: a file of
at most :data:`MAX_FILE_BYTES` (read no further), a regular file (a FIFO, a device such as
``/dev/zero`` or a socket is refused without blocking on it),
nesting at most :data:`MAX_DEPTH` deep, at most :data:`MAX_NODES` values once aliases are
expanded (an anchor/alias "billion laughs" stops there), and integers of at most
:data:`MAX_INT_DIGITS` digits.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import yaml

from .._errors import ConfigError
from .user_files import FileTooLargeError, NotRegularFileError, read_user_file

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_INT_DIGITS",
    "MAX_NODES",
    "LineMap",
    "load_yaml_file",
    "load_yaml_text",
]

MAX_FILE_BYTES = 1024 * 1024  # the packaged presets.yaml is about 30 KB
MAX_DEPTH = 64
MAX_NODES = 100_000
MAX_INT_DIGITS = 100

PathKey = tuple[str | int, ...]
LineMap = dict[PathKey, int]


def _record_lines(node: yaml.Node, path: PathKey, lines: LineMap, source: str) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    f"{source}:{line}: {'.'.join(map(str, (*path, key)))}: duplicate key "
                    f"(first defined on line {seen[key]})",
                    file=source,
                    line=line,
                    field=".".join(map(str, (*path, key))),
                )
            seen[key] = line
            # A key's line is where a user would look for it; nested values record their own.
            key_path = (*path, key)
            _record_lines(value_node, key_path, lines, source)
            lines[key_path] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), lines, source)


class _Refused(Exception):
    """A bound was passed at ``line`` (turned into a ConfigError naming the file)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a nesting bound (its composer recurses per level)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep", mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = sum(character.isdigit() for character in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise _Refused(
                f"a number of {digits} digits; at most {MAX_INT_DIGITS} are allowed",
                node.start_mark.line + 1,
            )
        return super().construct_yaml_int(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)

_CLoader: Any = getattr(yaml, "CSafeLoader", None)  # libyaml's parser, when PyYAML has it


def _too_deep(node: yaml.Node, depth: int) -> bool:
    """Whether ``node`` nests more than :data:`MAX_DEPTH` levels (stops looking at the bound)."""
    if depth > MAX_DEPTH:
        return True
    if isinstance(node, yaml.MappingNode):
        return any(_too_deep(value, depth + 1) for _, value in node.value)
    if isinstance(node, yaml.SequenceNode):
        return any(_too_deep(item, depth + 1) for item in node.value)
    return False


def _fast_parse(text: str) -> tuple[Any, LineMap] | None:
    """The packaged file through libyaml (about 15x faster), or None to take the checked path.

    Only for our own file: libyaml's composer recurses in C with no nesting bound, and its
    error messages differ from PyYAML's, so anything unusual (no libyaml, an error, a bound
    or a duplicate key) returns None and the bounded pure-Python loader reports it exactly.
    """
    if _CLoader is None:
        return None
    loader = _CLoader(text)
    try:
        node = loader.get_single_node()
        if node is None or _too_deep(node, 1) or _expanded_size(node, {}) > MAX_NODES:
            return None
        lines: LineMap = {}
        _record_lines(node, (), lines, "")
        return loader.construct_document(node), lines
    except (yaml.YAMLError, ConfigError, RecursionError):
        return None
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values ``node`` stands for once every alias is expanded (memoised, linear)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            size += _expanded_size(key_node, sizes) + _expanded_size(value_node, sizes)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            size += _expanded_size(item, sizes)
    sizes[id(node)] = size
    return size


def load_yaml_text(text: str, source: str, *, packaged: bool = False) -> tuple[Any, LineMap]:
    """Parse ``text``; return the data and a path -> line map.

    Syntax errors and passed bounds are ConfigError. ``packaged`` (the file shipped with the
    library, never a user's) tries libyaml first; any trouble falls back to the checked path.
    """
    if len(text) > MAX_FILE_BYTES:
        raise ConfigError(
            f"{source}: the file has {len(text):,} characters; at most {MAX_FILE_BYTES:,} are read",
            file=source,
        )
    if packaged:
        parsed = _fast_parse(text)
        if parsed is not None:
            return parsed
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)  # its reader refuses control characters at once
        node = loader.get_single_node()
        if node is None:
            return None, {}
        size = _expanded_size(node, {})
        if size > MAX_NODES:
            raise _Refused(
                f"{size:,} values once aliases are expanded; at most {MAX_NODES:,} are allowed "
                "(an anchor/alias bomb?)",
                None,
            )
        lines: LineMap = {}
        _record_lines(node, (), lines, source)
        data = loader.construct_document(node)
    except _Refused as exc:
        where = f"{source}:{exc.line}" if exc.line else source
        raise ConfigError(f"{where}: {exc}", file=source, line=exc.line) from None
    except RecursionError:  # a bound above should have stopped it first
        raise ConfigError(f"{source}: nested too deeply", file=source) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        where = f"{source}:{line}:{column}" if line else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{where}: YAML syntax error: {problem}", file=source, line=line) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: YAML error: {exc}", file=source) from exc
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def load_yaml_file(path: Path, *, packaged: bool = False) -> tuple[Any, LineMap]:
    """Read and parse ``path``; a missing or unreadable file is a ConfigError naming it.

    ``packaged`` is for the library's own file only (see :func:`load_yaml_text`).
    """
    source = str(path)
    try:
        # Regular files only, opened without blocking: a FIFO would hang, /dev/zero never ends.
        text = read_user_file(path, MAX_FILE_BYTES).decode("utf-8")
    except FileTooLargeError as exc:
        raise ConfigError(
            f"{source}: larger than {MAX_FILE_BYTES:,} bytes (the limit for a presets file)",
            file=source,
        ) from exc
    except NotRegularFileError as exc:
        raise ConfigError(
            f"{source}: not a regular file (it is {exc.kind}); give a YAML file", file=source
        ) from exc
    except FileNotFoundError as exc:
        what = "a broken symbolic link" if path.is_symlink() else "no such file"
        raise ConfigError(f"{source}: {what}", file=source) from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{source}: is a directory, not a YAML file", file=source) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text ({exc.reason})", file=source) from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(f"{source}: a symbolic link loop", file=source) from exc
        raise ConfigError(f"{source}: cannot read ({exc.strerror})", file=source) from exc
    except ValueError as exc:  # a NUL byte in the name
        raise ConfigError(f"{source!r}: not a valid file name", file=source) from exc
    return load_yaml_text(text, source, packaged=packaged)
