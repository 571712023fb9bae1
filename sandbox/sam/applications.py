"""The applications a sandbox runs from templates: the one ``run_local.py --template`` started it with, and
every stack ``aws cloudformation deploy`` (or ``deploy()`` from Python) created since. The page lists them
(``Sandbox.applications()``), CloudFormation's API on the local endpoint reads and changes them
(cloudformation.py), and ``Fn::ImportValue`` finds the other stacks' exports here."""
from __future__ import annotations

import threading
from pathlib import Path

from ..errors import ConfigError


class Applications:
    def __init__(self, sandbox):
        self.sandbox = sandbox
        self._stacks: dict = {}  # name -> TemplateStack, in creation order
        self._lock = threading.RLock()

    def add(self, stack) -> None:
        with self._lock:
            current = self._stacks.get(stack.name)
            if current is not None and current is not stack and current.status not in ("DELETE_COMPLETE",):
                raise ConfigError(f"Stack {stack.name} already exists in this sandbox.")
            self._stacks[stack.name] = stack

    def get(self, name: str):
        """A stack by name or by its id (the ARN CloudFormation gives), or None."""
        with self._lock:
            if name in self._stacks:
                return self._stacks[name]
            return next((s for s in self._stacks.values() if s.plan.stack_id == name), None)

    def all(self) -> list:
        with self._lock:
            return list(self._stacks.values())

    def replace(self, stack) -> None:
        """An update finished: the stack of that name is now ``stack``."""
        with self._lock:
            self._stacks[stack.name] = stack

    def forget(self, name: str) -> None:
        with self._lock:
            self._stacks.pop(name, None)

    def exports(self) -> dict:
        found: dict = {}
        for stack in self.all():
            if stack.status.endswith("_COMPLETE") and not stack.status.startswith(("DELETE", "ROLLBACK")):
                found.update(stack.exports())
        return found

    def deploy(self, template, stack_name: str | None = None, parameter_overrides: dict | None = None):
        """Create a stack from a template file in the running sandbox, as ``run_local.py --template`` does
        at start (code folders next to the template run from there). Returns the TemplateStack."""
        from .stack import TemplateStack

        stack = TemplateStack.from_file(Path(template), parameter_overrides, stack_name, self.sandbox.config.region,
                                        exports=self.exports)
        if self.get(stack.name) is not None and self.get(stack.name).status != "DELETE_COMPLETE":
            raise ConfigError(f"Stack {stack.name} already exists in this sandbox; choose another stack name.")
        stack.create(self.sandbox)
        return stack

    def stop(self) -> None:
        for stack in self.all():
            stack.stop()

    def describe(self) -> list[dict]:
        return [stack.describe() for stack in self.all() if stack.status != "DELETE_COMPLETE"]

    def cloudformation_app(self):
        """CloudFormation's API on the local endpoint (a WSGI app), answered by the sandbox itself."""
        from .cloudformation import CloudFormationApi

        return CloudFormationApi(self)
