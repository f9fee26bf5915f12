"""Loading presets files: the packaged defaults with the user's files layered over them.

:func:`load_presets` returns a :class:`PresetBook` (the presets by use case, the model registry,
the settings); :func:`default_book` keeps the one for the current files. The file's schema is
:mod:`llmpresets.config.schema` (its names are re-exported here, where the rest of the package
reads them); validation and its ``file:line`` messages are :mod:`llmpresets.config.validation`.

Layers, lowest to highest, each a plain dict merged deeply in this order:

1. the packaged ``presets.yaml`` (shipped inside the wheel);
2. the user's file(s): an explicit ``path``, else ``$LLMPRESETS_CONFIG``, else ``./presets.yaml``;
3. per-call overrides (applied later, by :func:`llmpresets.resolve_params`).

Mappings merge key by key (a user file may change one field of one preset); anything else,
lists included, is replaced. Each file is validated on its own first, so an error names the file
and line that caused it; then the merged result is validated again, and checked across sections
(aliases, families, the offline corpus).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._cache import BoundedCache
from .._errors import ConfigError, UnknownModelError, UnknownPresetError
from .corpus_file import corpus_problem
from .models import ModelSpec, family_for, lookup_model
from .schema import (
    ConfigFile,
    FaultRule,
    OfflineSettings,
    Preset,
    PresetFields,
    ScriptedCompletion,
    ScriptedReply,
    ScriptedRule,
    ScriptedToolCall,
    Settings,
    config_json_schema,
)
from .suggest import closest_model
from .validation import ConfigLayer, line_for, validate_config
from .yaml_file import load_yaml_file

__all__ = [
    "ConfigFile",
    "FaultRule",
    "OfflineSettings",
    "Preset",
    "PresetBook",
    "PresetFields",
    "ScriptedCompletion",
    "ScriptedReply",
    "ScriptedRule",
    "ScriptedToolCall",
    "Settings",
    "config_json_schema",
    "default_book",
    "load_presets",
    "packaged_presets_path",
    "user_config_paths",
]


# --------------------------------------------------------------------------- loading


def packaged_presets_path() -> Path:
    """The packaged defaults: inside the installed package, or the repository's top level."""
    here = Path(__file__).resolve().parent.parent  # llmpresets/, beside config/
    for candidate in (here / "presets.yaml", here.parent / "presets.yaml"):
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"the packaged presets.yaml is missing (looked in {here} and {here.parent}); "
        "reinstall llmpresets"
    )


def user_config_paths(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
) -> list[Path]:
    """User files to layer, in order: ``path``, else ``$LLMPRESETS_CONFIG``, else ./presets.yaml."""
    if path is not None:
        items = [path] if isinstance(path, (str, os.PathLike)) else list(path)
        return [Path(item) for item in items]
    env = os.environ.get("LLMPRESETS_CONFIG")
    if env:
        return [Path(item) for item in env.split(os.pathsep) if item]
    # Found by name: a ./presets.yaml that cannot be read (a broken or looping symbolic link,
    # a FIFO, a directory) is refused with its problem, as a broken YAML file is, never skipped.
    local = Path("presets.yaml")
    return [local] if os.path.lexists(local) else []


def _resolved(path: Path) -> Path:
    """``path.resolve()``, or ``path`` itself when it is a symbolic link loop (read reports it)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a loop, before Python 3.13
        return path


def _read_layer(path: Path, *, packaged: bool = False) -> ConfigLayer:
    data, lines = load_yaml_file(path, packaged=packaged)
    source = str(path)
    if data is None:
        raise ConfigError(
            f"{source}: the file is empty; expected a mapping with any of: "
            f"{', '.join(ConfigFile.model_fields)}",
            file=source,
        )
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}:1: expected a mapping with any of: {', '.join(ConfigFile.model_fields)}; "
            f"got {type(data).__name__}",
            file=source,
            line=1,
        )
    layer = ConfigLayer(source, data, lines)
    validate_config([layer], data)
    return layer


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# --------------------------------------------------------------------------- the book

# The specs PresetBook.model resolved, by the name asked for: any string can be a model name,
# so they are bounded. A spec copied for a snapshot or an unknown name holds about 4.5 KB
# (measured); each entry is charged 4 KiB and its name, so a book keeps about 512 (a registry
# model's own spec, shared with the registry, is charged alike).
_SPEC_BYTES = 4096
_SPECS_BUDGET = 2 * 1024 * 1024


def _specs_by_name() -> BoundedCache[str, ModelSpec]:
    """The specs :meth:`PresetBook.model` resolved; ``specs[name] = spec`` keeps one."""
    return BoundedCache(
        "model specs by name (one preset book)",
        _SPECS_BUDGET,
        size_of=lambda spec: _SPEC_BYTES + len(spec.name),
    )


# What config.adapt.resolve keeps for one book: it charges an entry its own size (about
# 1.5 KiB) and its string overrides' text, so the budget holds at most about 512.
RESOLUTIONS_BUDGET = 768 * 1024


def _resolution_cache() -> BoundedCache[Any, Any]:
    return BoundedCache("resolved presets (one preset book)", RESOLUTIONS_BUDGET)


@dataclass
class PresetBook:
    """The resolved configuration: presets by use case, the model registry, settings.

    >>> book = load_presets()
    >>> book.names()
    ['brainstorm', 'chat', 'code', 'creative', 'factual']
    >>> book["creative"].top_p
    0.95
    """

    presets: dict[str, Preset]
    models: dict[str, ModelSpec]
    settings: Settings = field(default_factory=lambda: Settings())
    offline: OfflineSettings = field(default_factory=lambda: OfflineSettings())
    sources: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Preset:
        try:
            return self.presets[name]
        except KeyError:
            raise UnknownPresetError(name, self.names()) from None

    def __contains__(self, name: object) -> bool:
        return name in self.presets

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.presets)

    def names(self) -> list[str]:
        """The use-case names, sorted."""
        return sorted(self.presets)

    aliases: dict[str, str] = field(default_factory=dict)
    families: dict[str, str] = field(default_factory=dict)
    # use case -> the fields a user file (not the packaged defaults) sets: a value the model
    # rejects warns only when the user asked for it.
    user_fields: dict[str, frozenset[str]] = field(default_factory=dict)
    out_of_scope: tuple[str, ...] = ()
    # Resolved specs by requested name (snapshots, aliases and unknown names included), and
    # the results of config.adapt.resolve for this book (adapt keeps and checks its entries).
    # A copy made with dataclasses.replace starts with its own of each.
    _specs: BoundedCache[str, ModelSpec] = field(
        default_factory=_specs_by_name, init=False, repr=False, compare=False
    )
    # What config.adapt.resolve keeps for this book (its resolutions; adapt's to fill).
    resolution_cache: BoundedCache[Any, Any] = field(
        default_factory=_resolution_cache, init=False, repr=False, compare=False
    )

    def __getstate__(self) -> dict[str, Any]:
        # A book pickles and deep-copies as it did before its caches held a lock: without
        # them, and the copy starts its own.
        state = dict(self.__dict__)
        del state["_specs"], state["resolution_cache"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._specs = _specs_by_name()
        self.resolution_cache = _resolution_cache()

    def model(self, name: str, *, strict: bool = False) -> ModelSpec:
        """The spec for ``name``: snapshots and aliases resolve to their model.

        A name the registry lacks gets a spec with unknown limits, or, with ``strict=True``,
        raises UnknownModelError listing the known models.
        """
        cached = self._specs.peek(name)
        if cached is not None and (cached.known or not strict):
            return cached
        spec = lookup_model(self.models, name, self.aliases)
        if spec is None:
            if strict:
                suggestion = closest_model(name, [*self.models, *self.aliases])
                raise UnknownModelError(name, sorted(self.models), suggestion=suggestion)
            family = family_for(self.models, self.families, name, self.out_of_scope)
            spec = ModelSpec.unknown(name, family)
        self._specs[name] = spec
        return spec


def load_presets(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
) -> PresetBook:
    """Load the packaged defaults and layer the user's file(s) over them, validated.

    ``path`` may be one file or a list (later files win); without it ``$LLMPRESETS_CONFIG``
    (``os.pathsep``-separated) or ``./presets.yaml`` is used when present. Raises
    :class:`ConfigError` naming the file, line, field, bad value and what is allowed.

    >>> book = load_presets()
    >>> book["code"].temperature, book.model("gpt-4o-2024-08-06").context_window
    (0.2, 128000)
    """
    packaged = packaged_presets_path().resolve()
    layers = [_read_layer(packaged, packaged=True)]
    for user_path in user_config_paths(path):
        if "\x00" in str(user_path):
            raise ConfigError(f"{str(user_path)!r}: not a valid file name", file=str(user_path))
        if _resolved(user_path) == packaged:
            continue
        layers.append(_read_layer(user_path))
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _merge(merged, layer.data)
    config = validate_config(layers, merged)
    config = _resolve_corpus(config, layers)
    presets = {
        name: Preset(name=name, **fields.model_dump(exclude_unset=False))
        for name, fields in config.presets.items()
    }
    models = {name: ModelSpec.from_fields(name, spec) for name, spec in config.models.items()}
    return PresetBook(
        presets=presets,
        models=models,
        aliases=_alias_index(config, layers),
        families=_checked_families(config, layers),
        user_fields=_user_fields(layers),
        out_of_scope=tuple(config.out_of_scope),
        settings=config.settings,
        offline=config.offline,
        sources=tuple(layer.source for layer in layers),
    )


def _resolve_corpus(config: ConfigFile, layers: list[ConfigLayer]) -> ConfigFile:
    """Make ``offline.corpus`` absolute (relative to its file) and check that it exists."""
    corpus = config.offline.corpus
    if corpus is None:
        return config
    loc = ("offline", "corpus")
    source, line = line_for(loc, layers)
    path = Path(corpus).expanduser()
    if not path.is_absolute() and source is not None:
        path = Path(source).resolve().parent / path
    if not path.is_file():
        where = f"{source}:{line}" if line is not None else str(source)
        reason = "is a directory" if path.is_dir() else "no such file"
        raise ConfigError(
            f"{where}: offline.corpus: {corpus!r} {reason} (looked for {path}); give a UTF-8 "
            "text corpus or a model saved by `llmpresets train --output`",
            file=source,
            line=line,
            field="offline.corpus",
        )
    problem = corpus_problem(path)
    if problem is not None:
        where = f"{source}:{line}" if line is not None else str(source)
        raise ConfigError(
            f"{path}: {problem} (offline.corpus, {where}); give a UTF-8 text corpus or a "
            "model saved by `llmpresets train --output`",
            file=source,
            line=line,
            field="offline.corpus",
        )
    offline = config.offline.model_copy(update={"corpus": str(path)})
    return config.model_copy(update={"offline": offline})


def _user_fields(layers: list[ConfigLayer]) -> dict[str, frozenset[str]]:
    """use case -> the fields a user file sets to something other than the packaged default.

    A value equal to the default counts as the default: a user who copied the whole packaged
    file (or runs from a checkout of this repository, whose ./presets.yaml *is* it) gets the
    quiet default behaviour, not a warning per packaged value the model does not take.
    """
    packaged = layers[0].data.get("presets") if layers else None
    packaged = packaged if isinstance(packaged, dict) else {}
    found: dict[str, set[str]] = {}
    for layer in layers[1:]:
        presets = layer.data.get("presets")
        for name, fields in (presets or {}).items() if isinstance(presets, dict) else ():
            if not isinstance(fields, dict):
                continue
            entry = packaged.get(name)
            defaults: dict[str, Any] = entry if isinstance(entry, dict) else {}
            changed = {
                str(key)
                for key, value in fields.items()
                if key not in defaults or defaults[key] != value
            }
            found.setdefault(name, set()).update(changed)
    return {name: frozenset(fields) for name, fields in found.items() if fields}


def _checked_families(config: ConfigFile, layers: list[ConfigLayer]) -> dict[str, str]:
    """``families:`` with every target a registry model (else a ConfigError at its line)."""
    for pattern, like in config.families.items():
        if like not in config.models:
            source, line = line_for(("families", pattern), layers)
            where = f"{source}:{line}" if line is not None else str(source)
            close = difflib.get_close_matches(like, list(config.models), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"{where}: families.{pattern}: {like!r} is not a model in the registry; "
                f"{hint}give the name of a model under models:",
                file=source,
                line=line,
                field=f"families.{pattern}",
            )
    return dict(config.families)


def _alias_index(config: ConfigFile, layers: list[ConfigLayer]) -> dict[str, str]:
    """alias -> model name; an alias may not be a model's name or another model's alias."""
    index: dict[str, str] = {}
    for name, fields in config.models.items():
        for alias in fields.aliases or ():
            clash = alias if alias in config.models else index.get(alias)
            if clash is not None and clash != name:
                loc = ("models", name, "aliases")
                source, line = line_for(loc, layers)
                where = f"{source}:{line}" if line is not None else str(source)
                owner = "a model's name" if alias in config.models else f"an alias of {clash!r}"
                raise ConfigError(
                    f"{where}: models.{name}.aliases: {alias!r} is already {owner}; "
                    "each name may point at one model",
                    file=source,
                    line=line,
                    field=f"models.{name}.aliases",
                )
            index[alias] = name
    return index


# The book for the current files, one per working directory and list of files: a hit needs
# those files unchanged (resolved path, mtime, size), and a changed file replaces its entry.
# A book holds about 3 KB per model and preset (measured: 141 KB for the packaged 44 models
# and 5 presets); the budget holds the packaged book about 25 times, or one registry of
# about 1,300 models.
_BOOK_BYTES_PER_ENTRY = 3 * 1024
_Files = tuple[str, tuple[str, ...]]  # the working directory, the user files as named
_FileStates = tuple[tuple[str, int | None, int | None], ...]
_default_books: BoundedCache[_Files, tuple[_FileStates, PresetBook]] = BoundedCache(
    "default preset books", 4 * 1024 * 1024
)


def default_book() -> PresetBook:
    """``load_presets()`` kept until a user file changes (path, size or mtime)."""
    paths = user_config_paths()
    files: _Files = (str(Path.cwd()), tuple(str(item) for item in paths))
    states: list[tuple[str, int | None, int | None]] = []
    for item in paths:
        try:
            stat = item.stat()
            states.append((str(_resolved(item)), stat.st_mtime_ns, stat.st_size))
        except OSError:
            states.append((str(item), None, None))
    kept = _default_books.get(files)
    if kept is not None and kept[0] == tuple(states):
        return kept[1]
    book = load_presets()
    nbytes = _BOOK_BYTES_PER_ENTRY * (len(book.models) + len(book.presets))
    _default_books.put(files, (tuple(states), book), nbytes=nbytes)
    return book
