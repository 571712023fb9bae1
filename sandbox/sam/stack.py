"""A stack made from a template: what ``run_local.py --template`` starts the sandbox with, and what
``aws cloudformation deploy`` creates in a running one.

``TemplateStack(...)`` reads, expands and checks the template at once, so a template the sandbox can't
run fails before anything starts. ``create(sandbox)`` then creates each resource, in dependency order,
through the AWS APIs of the local endpoint (a failure deletes what was created, as CloudFormation's
rollback does); functions whose code is a folder run from it with hot reload. ``describe()`` is what the
page shows of it: its functions with their triggers, its resources, its ``Outputs`` with AWS URLs made
local.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, FUNCTION_NAME
from ..errors import ConfigError
from .intrinsics import TemplateError
from .plan import Plan
from .resources import KINDS, Created
from .template import ExpandedTemplate, expand

_AWS_API_URL = re.compile(r"https://([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com")


def stack_name_for(path: Path) -> str:
    """A stack name from the template's folder (``sam-app/template.yaml`` -> ``sam-app``), as CloudFormation
    allows them: letters, digits and hyphens, starting with a letter."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", Path(path).resolve().parent.name).strip("-")
    return name if name[:1].isalpha() else f"stack-{name}" if name else "sam-app"


def local_urls(text, port: int):
    """AWS's API URLs (``https://<id>.execute-api.<region>.amazonaws.com``) as the sandbox serves them."""
    return _AWS_API_URL.sub(lambda m: f"http://{m.group(1)}.execute-api.localhost:{port}", text) \
        if isinstance(text, str) else text


@dataclass
class StackEvent:
    logical_id: str
    resource_type: str
    status: str
    physical_id: str = ""
    reason: str = ""
    timestamp: float = field(default_factory=time.time)


class TemplateStack:
    def __init__(self, template: ExpandedTemplate, stack_name: str, region: str = "us-east-1", exports=dict,
                 origin: str = "run_local.py --template", previous: "TemplateStack | None" = None):
        """``previous``: the stack this one would update (its id and the names of the resources it keeps)."""
        self.template = template
        self.name = stack_name
        self.region = region
        self.origin = origin
        self.capabilities: list = []
        try:
            self.plan = Plan(template, stack_name, region, exports,
                             stack_id=previous.plan.stack_id if previous else None,
                             names=previous.plan.names if previous else None)
        except TemplateError as exc:  # name the template, once
            if type(exc) is TemplateError and not str(exc).startswith(template.source):
                raise TemplateError(f"{template.source}: {exc}") from None
            raise
        self.status = "REVIEW_IN_PROGRESS"
        self.status_reason = ""
        self.events: list[StackEvent] = []
        self.warnings: list[str] = []
        self.outputs: list[dict] = []
        self.created_at = time.time()
        self.updated_at: float | None = None
        self._watched: dict[Path, set[str]] = {}
        self._watcher = None
        self._port = 0

    @classmethod
    def from_file(cls, path, parameter_overrides: dict | None = None, stack_name: str | None = None,
                  region: str = "us-east-1", exports=dict) -> "TemplateStack":
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"Template {path} does not exist; give the path of a SAM or CloudFormation template "
                              f"(template.yaml).")
        name = stack_name or stack_name_for(path)
        expanded = expand(path.read_text(encoding="utf-8"), source=str(path), base_dir=path.resolve().parent,
                          parameter_overrides=parameter_overrides, stack_name=name, region=region)
        return cls(expanded, name, region, exports)

    # -- the Stack seam (sandbox/guide_stack.py) -----------------------------------------------------
    @property
    def default_function(self) -> str | None:
        """The function ``Sandbox.function`` names: the guide's if the template has it, else its first."""
        names = [self.plan.names[n] for n in self.plan.order if self.plan.type_of(n) == "AWS::Lambda::Function"]
        return FUNCTION_NAME if FUNCTION_NAME in names else (names[0] if names else None)

    async_workers = 10

    def create(self, sandbox) -> None:
        """Create every resource through the local endpoint's APIs (the sandbox has started); on a failure
        delete what was created and raise, naming the resource and the API's answer."""
        from .deployment import Deployment

        self._port = sandbox.endpoint.port
        sandbox.stacks.add(self)
        self.status = "CREATE_IN_PROGRESS"
        deployment = Deployment(self, sandbox)
        done: list[str] = []
        for logical_id in self.plan.order:
            kind_name = self.plan.type_of(logical_id)
            self.events.append(StackEvent(logical_id, kind_name, "CREATE_IN_PROGRESS"))
            try:
                props = self.plan.resolved(logical_id)
                deployment.begin(logical_id, props)
                created = KINDS[kind_name].create(logical_id, props, deployment)
            except Exception as exc:
                reason = _reason(exc)
                self.events.append(StackEvent(logical_id, kind_name, "CREATE_FAILED", reason=reason))
                self._roll_back(done, deployment)
                self.status, self.status_reason = "ROLLBACK_COMPLETE", f"{logical_id}: {reason}"
                raise TemplateError(f"{self.template.source}: {logical_id} ({kind_name}) could not be created: "
                                    f"{reason}; what had been created was deleted again.") from None
            self.plan.created[logical_id] = created
            self.plan.props[logical_id] = props
            done.append(logical_id)
            self.events.append(StackEvent(logical_id, kind_name, "CREATE_COMPLETE", created.physical_id))
        self.complete("CREATE_COMPLETE", sandbox, deployment)
        self._watched = deployment.watched
        if sandbox.config.hot_reload and self._watched:
            from .watcher import FolderWatcher

            self._watcher = FolderWatcher(sandbox, self._watched, lambda line: _say(sandbox, line)).start()
        for line in self.plan.notes + self.warnings:
            _say(sandbox, f"{self.name}: {line}")

    def complete(self, status: str, sandbox, deployment) -> None:
        """Every resource is created (or updated): the outputs can be resolved."""
        self._port = sandbox.endpoint.port
        self.warnings = deployment.warnings
        self.outputs = self._outputs()
        self.status = status

    def stop(self) -> None:
        """The sandbox stops: the folders are no longer watched (nothing is deleted)."""
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    def delete(self, sandbox) -> None:
        """Delete the stack's resources in reverse order (``DeletionPolicy: Retain`` ones are kept), as
        ``aws cloudformation delete-stack`` does."""
        from .deployment import Deployment

        self.stop()
        self.status = "DELETE_IN_PROGRESS"
        deployment = Deployment(self, sandbox)
        failures = self._roll_back(list(self.plan.created), deployment)
        self.status = "DELETE_FAILED" if failures else "DELETE_COMPLETE"
        self.status_reason = "; ".join(failures)

    def _roll_back(self, done: list[str], deployment) -> list[str]:
        failures = []
        for logical_id in reversed(done):
            resource = self.plan.resources[logical_id]
            kind_name = self.plan.type_of(logical_id)
            if resource.get("DeletionPolicy") == "Retain":
                self.events.append(StackEvent(logical_id, kind_name, "DELETE_SKIPPED"))
                continue
            try:
                KINDS[kind_name].delete(self.plan.created[logical_id], deployment)
                self.plan.created.pop(logical_id)
                self.events.append(StackEvent(logical_id, kind_name, "DELETE_COMPLETE"))
            except Exception as exc:
                failures.append(f"{logical_id}: {_reason(exc)}")
                self.events.append(StackEvent(logical_id, kind_name, "DELETE_FAILED", reason=_reason(exc)))
        return failures

    # -- reading -------------------------------------------------------------------------------------
    def _outputs(self) -> list[dict]:
        outputs = []
        for key, spec in (self.template.expanded.get("Outputs") or {}).items():
            spec = spec or {}
            if spec.get("Condition") and not self.plan.resolver.condition(str(spec["Condition"])):
                continue
            value = local_urls(self.plan.resolver.resolve(spec.get("Value")), self._port)
            output = {"key": str(key), "value": value, "description": str(spec.get("Description") or "")}
            if isinstance(spec.get("Export"), dict):
                output["export"] = self.plan.resolver.resolve(spec["Export"].get("Name"))
            outputs.append(output)
        return outputs

    def exports(self) -> dict:
        return {o["export"]: o["value"] for o in self.outputs if o.get("export")}

    def resource(self, logical_id: str) -> Created:
        """A created resource by its logical id (``HelloWorldFunction``), as describe-stack-resource finds it."""
        if logical_id not in self.plan.created:
            raise ConfigError(f"Stack {self.name} has no resource {logical_id}.")
        return self.plan.created[logical_id]

    def output(self, key: str):
        for output in self.outputs:
            if output["key"] == key:
                return output["value"]
        raise ConfigError(f"Stack {self.name} has no output {key}.")

    def describe(self) -> dict:
        from .triggers import triggers_by_function

        triggers = triggers_by_function(self.plan, self._port)
        functions = []
        declared = [str(k) for k in (self.template.original.get("Resources") or {})]

        def position(logical_id: str) -> int:  # the template's order, not the creation order
            origin = self.template.origin(logical_id) or logical_id
            return declared.index(origin) if origin in declared else len(declared)
        for logical_id in sorted(self.plan.order, key=position):
            if self.plan.type_of(logical_id) != "AWS::Lambda::Function" or logical_id not in self.plan.created:
                continue
            props, created = self.plan.props[logical_id], self.plan.created[logical_id]
            functions.append({
                "logical_id": logical_id, "name": created.physical_id,
                "from": self.template.origin(logical_id) if self.template.origin(logical_id) != logical_id else None,
                "handler": props.get("Handler"), "runtime": props.get("Runtime"),
                "code": created.extra.get("folder") or "zip (through the Lambda API)",
                "memory_size": int(props.get("MemorySize", DEFAULT_MEMORY_MB)), "timeout": int(props.get("Timeout", DEFAULT_TIMEOUT_S)),
                "triggers": triggers.get(created.physical_id, [])})
        resources = [{"logical_id": n, "type": self.plan.type_of(n), "physical_id": self.plan.created[n].physical_id,
                      "from": self.template.origin(n) if self.template.origin(n) != n else None}
                     for n in self.plan.order if n in self.plan.created]
        return {"name": self.name, "template": self.template.source, "origin": self.origin,
                "description": self.template.description, "status": self.status, "created_at": self.created_at,
                "functions": functions, "resources": resources, "outputs": list(self.outputs),
                "notes": list(self.plan.notes), "warnings": list(self.warnings)}


def _say(sandbox, line: str) -> None:
    """A line for the person at the terminal (as the sandbox's own: only when it shows its logs there)."""
    if sandbox.config.terminal_logs:
        print(line, flush=True)


def _reason(exc: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error") or {}
        return f"{error.get('Code', 'Error')}: {error.get('Message') or exc.response.get('message') or exc}"
    return str(exc) or type(exc).__name__
