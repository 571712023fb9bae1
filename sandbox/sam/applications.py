"""The applications a sandbox runs from templates: the one ``run_local.py --template`` started it with, and
every stack ``aws cloudformation deploy`` (or ``deploy()`` from Python) created since. The page lists them
(``Sandbox.applications()``), CloudFormation's API on the local endpoint reads and changes them
(cloudformation.py), and ``Fn::ImportValue`` finds the other stacks' exports here.

With a state directory (``sandbox.persistence``) every stack is written after each create, update and
delete, before CloudFormation's API answers (``save``): ``stack/<name>`` holds what the stack keeps
(TemplateStack.state()), ``stacks`` their names in creation order. A restored start rebuilds them
(``restore``, called by Sandbox.start) right after the sandbox's own stack is restored; nothing is created
again, since their resources came back with the state.
"""

from __future__ import annotations

import threading
from pathlib import Path

from sandbox.errors import ConfigError

INDEX = "stacks"  # the kept stacks' names, in creation order
KEPT = (
    "REVIEW_IN_PROGRESS",
    "DELETE_COMPLETE",
)  # statuses of stacks the state does not keep (nothing exists)


class StackNotKept(RuntimeError):
    """A stack changed but could not be written to the state directory (it would not survive a restart).
    Not a SandboxError: CloudFormation's API answers it as an internal failure, not a template error."""


class Applications:
    def __init__(self, sandbox):
        self.sandbox = sandbox
        self._stacks: dict = {}  # name -> TemplateStack, in creation order
        self._lock = threading.RLock()
        self._index: list[str] | None = None  # as kept in the state directory
        self._restored = False

    # -- the state directory ---------------------------------------------------------------------------
    def kept(self, name: str) -> dict | None:
        """What the state directory keeps of a stack, or None (no state directory, or no such stack)."""
        persistence = self.sandbox.persistence
        return None if persistence is None else persistence.load(f"stack/{name}")

    def save(self, stack) -> None:
        """Write the stack as it is now (after a create, an update or a delete) to the state directory,
        durably, before the caller answers; a deleted one is forgotten. Nothing without a state directory."""
        persistence = self.sandbox.persistence
        if persistence is None:
            return
        try:
            with self._lock:  # one writer at a time: the index and the stacks agree
                if self._index is None:
                    self._index = list(persistence.load(INDEX) or [])
                if stack.status not in KEPT:
                    persistence.save(f"stack/{stack.name}", stack.state(self.sandbox.endpoint_url))
                    if stack.name not in self._index:
                        self._index.append(stack.name)
                        persistence.save(INDEX, self._index)
                elif stack.name in self._index:
                    self._index.remove(stack.name)
                    persistence.save(INDEX, self._index)
                    persistence.forget(f"stack/{stack.name}")
        except Exception as exc:
            message = (
                f"Stack {stack.name} is {stack.status} in the sandbox, but could not be written to the state "
                f"directory {persistence.directory} ({type(exc).__name__}: {exc}); it would not survive a "
                f"restart."
            )
            self.sandbox._report(f"[state] {message}")
            raise StackNotKept(message) from exc

    def restore(self) -> list:
        """A restored start: every stack the state keeps, rebuilt (its resources are back with the state),
        except those already here (the sandbox's own, restored by its ``restore``). Returns them. A stack
        that cannot be rebuilt is left out with a line saying so; its resources stay."""
        persistence = self.sandbox.persistence
        if persistence is None or self._restored or not persistence.restored:
            return []
        self._restored = True
        from sandbox.sam.stack import TemplateStack

        restored = []
        for name in persistence.load(INDEX) or []:
            state = self.kept(name)
            if state is None or self.get(name) is not None:
                continue
            try:
                stack = TemplateStack.from_state(state, self.exports, self.sandbox.endpoint_url)
            except Exception as exc:
                self.sandbox._report(
                    f"[state] Stack {name} is in the state directory but cannot be rebuilt from "
                    f"it ({type(exc).__name__}: {exc}); its resources are kept, unlisted. Start "
                    f"with --fresh to begin again."
                )
                continue
            with self._lock:
                self._stacks[name] = stack
            stack.resume(self.sandbox)
            restored.append(stack)
        return restored

    # -- the stacks ------------------------------------------------------------------------------------

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
        from sandbox.sam.stack import TemplateStack

        stack = TemplateStack.from_file(
            Path(template), parameter_overrides, stack_name, self.sandbox.config.region, exports=self.exports
        )
        if self.get(stack.name) is not None and self.get(stack.name).status != "DELETE_COMPLETE":
            raise ConfigError(
                f"Stack {stack.name} already exists in this sandbox; choose another stack name."
            )
        stack.create(self.sandbox)
        return stack

    def stop(self) -> None:
        for stack in self.all():
            stack.stop()

    def describe(self) -> list[dict]:
        return [stack.describe() for stack in self.all() if stack.status != "DELETE_COMPLETE"]

    def cloudformation_app(self):
        """CloudFormation's API on the local endpoint (a WSGI app), answered by the sandbox itself."""
        from sandbox.sam.cloudformation import CloudFormationApi

        return CloudFormationApi(self)
