"""Regular expressions from a user's file, checked at load and matched within a time bound.

Python's ``re`` backtracks: ``(a+)+$`` against 29 characters of ``a`` and one ``b`` takes
seconds, and a longer prompt takes years. Scripted rules (``offline.scripted[].match`` with
``regex: true``) are checked twice:

* at load, :func:`regex_problem` refuses what is invalid and the shapes that backtrack
  exponentially: a repeated group that itself contains a repeat (``(a+)+``, ``(\\w*x?)*``), and
  back-references;
* at match time, :func:`bounded_search` runs the search with the ``regex`` package's timeout
  (:data:`MATCH_TIMEOUT` seconds), so what the load check cannot see (``(a|aa)+$``, ``.*.*.*x``
  on a long prompt) ends with a :class:`~llmpresets.ConfigError` naming the pattern instead of a
  hang. The ``regex`` package reads Python ``re`` syntax the same way (its ``VERSION0``).
"""

from __future__ import annotations

import re
from typing import Any

from .._cache import memoize
from .._errors import ConfigError

__all__ = ["MATCH_TIMEOUT", "bounded_search", "regex_problem"]

MATCH_TIMEOUT = 0.25  # seconds for one search of one prompt

try:  # Python 3.11+
    from re import _parser as sre_parse  # type: ignore[attr-defined,unused-ignore]
    from re._constants import MAXREPEAT  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse  # type: ignore[no-redef,unused-ignore]
    from sre_constants import MAXREPEAT  # type: ignore[no-redef,unused-ignore]


def regex_problem(pattern: str) -> str | None:
    """Why ``pattern`` may not be used as a scripted rule, or ``None`` when it may.

    >>> regex_problem(r"weather in (\\w+)") is None
    True
    >>> print(regex_problem(r"(a+)+$"))  # doctest: +ELLIPSIS
    regex '(a+)+$' repeats a group that itself repeats, which can take exponential time; ...
    """
    try:
        parsed = sre_parse.parse(pattern)
        _compiled(pattern)
    except (re.error, ValueError, OverflowError, RecursionError) as exc:
        return f"invalid regex {pattern!r}: {exc}"
    except Exception as exc:  # the regex package's own error class
        return f"invalid regex {pattern!r}: {exc}"
    nested = _nested_repeat(parsed, inside=False)
    if nested == "backreference":
        return (
            f"regex {pattern!r} uses a back-reference, which can take exponential time; "
            "match the text without it"
        )
    if nested is not None:
        return (
            f"regex {pattern!r} repeats a group that itself repeats, which can take exponential "
            "time; write it without the nesting (e.g. '(a+)+' as 'a+')"
        )
    return None


def _nested_repeat(items: Any, *, inside: bool) -> str | None:
    """ "nested" for a repeat inside a repeat, "backreference" for one, else None."""
    for op, value in items:
        name = str(op)
        if name == "GROUPREF" or name == "GROUPREF_EXISTS":
            return "backreference"
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            _low, high, body = value
            repeats = high == MAXREPEAT or high > 1
            if repeats and inside:
                return "nested"
            found = _nested_repeat(body, inside=inside or (repeats and high > 1))
            if found is not None:
                return found
        elif name == "SUBPATTERN":
            found = _nested_repeat(value[-1], inside=inside)
            if found is not None:
                return found
        elif name == "BRANCH":
            for branch in value[1]:
                found = _nested_repeat(branch, inside=inside)
                if found is not None:
                    return found
        elif name in ("ASSERT", "ASSERT_NOT"):
            found = _nested_repeat(value[1], inside=inside)
            if found is not None:
                return found
        elif name == "ATOMIC_GROUP":
            found = _nested_repeat(value, inside=inside)
            if found is not None:
                return found
    return None


# Compiled scripted-rule patterns: a compiled pattern holds 3 to 4 KB (measured, its size as
# sys.getsizeof reports it is about 2.8 KB), so the budget keeps about 300, as many as a file
# of rules has.
@memoize("scripted-rule regexes", budget=1024 * 1024)
def _compiled(pattern: str) -> Any:
    import regex

    return regex.compile(pattern, flags=regex.VERSION0)


def bounded_search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` is found in ``text``, giving up after :data:`MATCH_TIMEOUT` seconds.

    >>> bounded_search(r"wea?ther", "what's the weather?")
    True
    """
    try:
        return _compiled(pattern).search(text, timeout=MATCH_TIMEOUT) is not None
    except TimeoutError:
        raise ConfigError(
            f"scripted rule regex {pattern!r} took more than {MATCH_TIMEOUT} s on a "
            f"{len(text):,}-character message; simplify it (avoid repeats of alternatives "
            "that overlap, like '(a|aa)+', and several '.*' in a row)",
            field="offline.scripted.match",
        ) from None
