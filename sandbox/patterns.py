"""Patterns users write (CloudFormation's ``AllowedPattern``, EventBridge's ``wildcard`` filters and name
prefixes) matched with RE2 (``google-re2``), whose time is linear in the text: a pattern like ``(a+)+b``
that backtracks for hours in Python's ``re`` is judged at once, and the sandbox keeps serving meanwhile.

AWS reads ``AllowedPattern`` as a Java regular expression. RE2 reads the common part of both (classes,
groups, alternation, counted repetition, ``(?i)``); what only a backtracking engine can do (lookaround,
backreferences, possessive quantifiers, class intersection) is refused with a message, never run.
"""

from __future__ import annotations

import functools

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is the caller's message, not a line on stderr
_INTERSECTION = re2.compile(r"\[[^\]]*&&", _OPTIONS)  # Java's [a-z&&[^aeiou]]; RE2 would read it literally


class PatternError(ValueError):
    """A pattern the linear-time engine cannot run; the message says what to change."""


@functools.lru_cache(maxsize=512)
def compiled(pattern: str):
    if _INTERSECTION.search(pattern):
        raise PatternError(
            f"pattern {pattern} uses a character class intersection (&&), which the sandbox's "
            f"linear-time regular expressions (RE2) do not support; write the class out"
        )
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternError(
            f"pattern {pattern} cannot be used by the sandbox's linear-time regular "
            f"expressions (RE2: {detail}); lookaround, backreferences and possessive "
            f"quantifiers are not supported: write it without them"
        ) from None


def fullmatch(pattern: str, text: str) -> bool:
    """True when ``text`` matches all of ``pattern``; PatternError for a pattern RE2 cannot run."""
    return compiled(pattern).fullmatch(text) is not None


def wildcard_match(text: str, pattern: str) -> bool:
    """EventBridge's ``wildcard``: ``*`` matches any characters, ``\\*`` and ``\\\\`` are literal."""
    parts, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\" and pattern[i + 1 : i + 2] in ("*", "\\"):
            parts.append(re2.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if pattern[i] == "*" else re2.escape(pattern[i]))
        i += 1
    return fullmatch("(?s)" + "".join(parts), text)
