"""YAML loading that remembers where each value came from.

PyYAML's node tree carries a line for every key and value; we keep a map from the path of each
value (``("presets", "code", "temperature")``) to its 1-based line, so validation errors can
point at ``file:line``. Duplicate keys, which PyYAML would silently collapse, are errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ._errors import ConfigError

__all__ = ["LineMap", "load_yaml_file", "load_yaml_text"]

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


def load_yaml_text(text: str, source: str) -> tuple[Any, LineMap]:
    """Parse ``text``; return the data and a path -> line map. Syntax errors are ConfigError."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            return None, {}
        lines: LineMap = {}
        _record_lines(node, (), lines, source)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        where = f"{source}:{line}:{column}" if line else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{where}: YAML syntax error: {problem}", file=source, line=line) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: YAML error: {exc}", file=source) from exc
    return data, lines


def load_yaml_file(path: Path) -> tuple[Any, LineMap]:
    """Read and parse ``path``; a missing or unreadable file is a ConfigError naming it."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{source}: no such file", file=source) from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{source}: is a directory, not a YAML file", file=source) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text ({exc.reason})", file=source) from exc
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read ({exc.strerror})", file=source) from exc
    return load_yaml_text(text, source)
