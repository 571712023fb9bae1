"""``--env-vars env.json``: environment variable overrides in SAM CLI's format, so an existing file works.

``{"FunctionName": {"VAR": "value"}, "Parameters": {"VAR": "value"}}``, resolved as ``sam local invoke``
does (samcli/commands/local/lib/local_lambda.py, samcli/local/lambdafn/env_vars.py): ``Parameters`` applies
to every function, a function's own entry (by its template logical id or its function name) wins over it,
and only variables the function declares are set (its template's ``Environment.Variables``, or ``--env``
for the guide's function); values become strings (true/false; objects, lists and null become "").
SAM CLI also lets the shell's environment override declared variables; the sandbox does not, so a
function sees the same values whatever shell started the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sandbox.errors import ConfigError


def _string(value) -> str:
    if isinstance(value, (dict, list, tuple)) or value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


class EnvVarsFile:
    """The file's overrides, applied to each function's declared variables when its environment starts."""

    def __init__(self, values: dict, source: str = "env.json"):
        if not isinstance(values, dict):
            raise ConfigError(
                f"--env-vars {source}: the file must hold a JSON object of objects, as "
                f"sam local's --env-vars takes."
            )
        for key, entry in values.items():
            if not isinstance(entry, dict):
                raise ConfigError(
                    f"--env-vars {source}: Environment variables {entry!r} in incorrect format "
                    f"(the value of {key!r} must be an object of NAME: value)."
                )
        self.values, self.source = values, source
        self.logical_ids: Callable[[], dict[str, str]] = dict  # function name -> template logical id

    @classmethod
    def load(cls, path) -> EnvVarsFile:
        try:
            return cls(json.loads(Path(path).read_text(encoding="utf-8")), str(path))
        except OSError as exc:
            raise ConfigError(f"--env-vars {path}: cannot read it ({exc.strerror}).") from None
        except ValueError as exc:
            raise ConfigError(f"--env-vars {path}: not valid JSON ({exc}).") from None

    def _overrides(self, function_name: str) -> dict:
        overrides = dict(self.values.get("Parameters") or {})
        own = self.values.get(self.logical_ids().get(function_name, "")) or self.values.get(function_name)
        overrides.update(own or {})
        return overrides

    def for_function(self, function) -> dict[str, str]:
        """The values this file sets for ``function``: only the variables it declares."""
        declared = function.environment
        return {
            name: _string(value)
            for name, value in self._overrides(function.function_name).items()
            if name in declared
        }

    def skipped(self, functions) -> list[str]:
        """One sentence per entry that sets nothing: no such function, or variables it does not declare."""
        names = {f.function_name for f in functions} | set(self.logical_ids().values())
        notes = [
            f"--env-vars: no function {key!r} here; its variables are not used."
            for key in self.values
            if key != "Parameters" and key not in names
        ]
        for function in functions:
            own = self.logical_ids().get(function.function_name, function.function_name)
            entry = self.values.get(own) or self.values.get(function.function_name) or {}
            undeclared = sorted(set(entry) - set(function.environment))
            if undeclared:
                notes.append(
                    f"--env-vars: {function.function_name} does not declare {', '.join(undeclared)} "
                    f"in its Environment; not set (as sam local: declare it to override it)."
                )
        return notes
