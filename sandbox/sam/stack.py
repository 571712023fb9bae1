"""A stack made from a template: what ``run_local.py --template`` starts the sandbox with, and what
``aws cloudformation deploy`` creates in a running one.

``TemplateStack(...)`` reads, expands and checks the template at once; ``create(sandbox)`` creates each
resource in dependency order through the local endpoint's AWS APIs (a failure deletes what was created,
as CloudFormation's rollback does); ``describe()`` is what the page shows. With ``--state-dir`` each stack
is kept (``state()``) and rebuilt on a restored start (``from_state``, ``restore``).

How a stack is created and kept: docs/sam-internals.md.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

from sandbox.config import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, FUNCTION_NAME
from sandbox.errors import ConfigError
from sandbox.sam.intrinsics import TemplateError
from sandbox.sam.plan import Plan
from sandbox.sam.resources import KINDS, Created
from sandbox.sam.template import ExpandedTemplate, decode, expand

STATE_VERSION = 1  # of what state() gives
_AWS_API_URL = re.compile(r"https://([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com")


def stack_name_for(path: Path) -> str:
    """A stack name from the template's folder (``sam-app/template.yaml`` -> ``sam-app``), as CloudFormation
    allows them: letters, digits and hyphens, starting with a letter."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", Path(path).resolve().parent.name).strip("-")
    return name if name[:1].isalpha() else f"stack-{name}" if name else "sam-app"


def template_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def local_urls(text, port: int):
    """AWS's API URLs (``https://<id>.execute-api.<region>.amazonaws.com``) as the sandbox serves them."""
    return (
        _AWS_API_URL.sub(lambda m: f"http://{m.group(1)}.execute-api.localhost:{port}", text)
        if isinstance(text, str)
        else text
    )


@dataclass
class StackEvent:
    logical_id: str
    resource_type: str
    status: str
    physical_id: str = ""
    reason: str = ""
    timestamp: float = field(default_factory=time.time)


class TemplateStack:
    def __init__(
        self,
        template: ExpandedTemplate,
        stack_name: str,
        region: str = "us-east-1",
        exports=dict,
        origin: str = "run_local.py --template",
        previous: TemplateStack | None = None,
    ):
        """``previous``: the stack this one would update (its id and the names of the resources it keeps)."""
        self.template = template
        self.name = stack_name
        self.region = region
        self.origin = origin
        self.capabilities: list = []
        try:
            self.plan = Plan(
                template,
                stack_name,
                region,
                exports,
                stack_id=previous.plan.stack_id if previous else None,
                names=previous.plan.names if previous else None,
            )
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
        self.restored = False  # rebuilt from a state directory on this start
        self.restore_notes: list[str] = []  # what that start says of the stack (not kept)
        self._watched: dict[Path, set[str]] = {}
        self._watcher = None
        self._port = 0

    @classmethod
    def from_file(
        cls,
        path,
        parameter_overrides: dict | None = None,
        stack_name: str | None = None,
        region: str = "us-east-1",
        exports=dict,
    ) -> TemplateStack:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(
                f"Template {path} does not exist; give the path of a SAM or CloudFormation template "
                f"(template.yaml)."
            )
        name = stack_name or stack_name_for(path)
        expanded = expand(
            path.read_text(encoding="utf-8"),
            source=str(path),
            base_dir=path.resolve().parent,
            parameter_overrides=parameter_overrides,
            stack_name=name,
            region=region,
        )
        return cls(expanded, name, region, exports)

    # -- the Stack seam (sandbox/guide/stack.py) -----------------------------------------------------
    @property
    def default_function(self) -> str | None:
        """The function ``Sandbox.function`` names: the guide's if the template has it, else its first."""
        names = [
            self.plan.names[n] for n in self.plan.order if self.plan.type_of(n) == "AWS::Lambda::Function"
        ]
        return FUNCTION_NAME if FUNCTION_NAME in names else (names[0] if names else None)

    async_workers = 10

    def create(self, sandbox) -> None:
        """Create every resource through the local endpoint's APIs (the sandbox has started); on a failure
        delete what was created and raise, naming the resource and the API's answer."""
        from sandbox.sam.resource_context import Deployment

        self._port = sandbox.endpoint.port
        sandbox.template_stacks.add(self)
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
                sandbox.template_stacks.save(self)
                raise TemplateError(
                    f"{self.template.source}: {logical_id} ({kind_name}) could not be created: "
                    f"{reason}; what had been created was deleted again."
                ) from None
            self.plan.created[logical_id] = created
            self.plan.props[logical_id] = props
            done.append(logical_id)
            self.events.append(StackEvent(logical_id, kind_name, "CREATE_COMPLETE", created.physical_id))
        self.complete("CREATE_COMPLETE", sandbox, deployment)
        self._watched = deployment.watched
        self._watch(sandbox)
        sandbox.template_stacks.save(self)  # on disk (--state-dir) before anyone hears the stack is there
        for line in self.plan.notes + self.warnings:
            _say(sandbox, f"{self.name}: {line}")

    def _watch(self, sandbox) -> None:
        """Hot reload of the folders the stack's functions (and their layers) run from."""
        if sandbox.config.hot_reload and self._watched and self._watcher is None:
            from sandbox.sam.watcher import FolderWatcher

            self._watcher = FolderWatcher(sandbox, self._watched, lambda line: _say(sandbox, line)).start()

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
        from sandbox.sam.resource_context import Deployment

        self.stop()
        self.status = "DELETE_IN_PROGRESS"
        deployment = Deployment(self, sandbox)
        failures = self._roll_back(list(self.plan.created), deployment)
        self.status = "DELETE_FAILED" if failures else "DELETE_COMPLETE"
        self.status_reason = "; ".join(failures)
        sandbox.template_stacks.save(self)

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

    # -- the state directory (--state-dir) -------------------------------------------------------------
    def state(self, endpoint_url: str = "") -> dict:
        """What the state directory keeps of the stack (JSON): enough to rebuild it without creating
        anything (the template as expanded, the names and ids of what was created, its events)."""
        template = self.template
        found = {
            "version": STATE_VERSION,
            "name": self.name,
            "region": self.region,
            "origin": self.origin,
            "capabilities": list(self.capabilities),
            "source": template.source,
            "text": template.text,
            "template_hash": template_hash(template.text),
            "base_dir": str(template.base_dir),
            "parameters": template.parameters,
            "expanded": template.expanded,
            "local_code": [[bucket, key, str(path)] for (bucket, key), path in template.local_code.items()],
            "stack_id": self.plan.stack_id,
            "names": dict(self.plan.names),
            "created": {n: asdict(c) for n, c in self.plan.created.items()},
            "props": dict(self.plan.props),
            "status": self.status,
            "status_reason": self.status_reason,
            "events": [asdict(e) for e in self.events],
            "warnings": list(self.warnings),
            "outputs": list(self.outputs),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "watched": {str(f): sorted(n) for f, n in self._watched.items()},
            "endpoint": endpoint_url,
        }
        return json.loads(json.dumps(found, default=str))  # plain JSON (a YAML date becomes its text)

    @classmethod
    def from_state(cls, state: dict, exports=dict, endpoint_url: str = "") -> TemplateStack:
        """The stack ``state()`` kept, as it was (its resources exist: nothing is created). URLs of the
        local endpoint it kept (a queue's) follow the endpoint to its port of this run."""
        if state.get("version") != STATE_VERSION:
            raise ConfigError(
                f"it was kept in another format ({state.get('version')}, this sandbox reads {STATE_VERSION})"
            )
        state = dict(
            state,
            **{
                part: _moved(state[part], state.get("endpoint") or "", endpoint_url)
                for part in ("created", "props", "outputs", "events")
            },
        )
        template = ExpandedTemplate(
            source=state["source"],
            text=state["text"],
            original=decode(state["text"], state["source"]),
            expanded=state["expanded"],
            parameters=state["parameters"],
            local_code={(bucket, key): Path(path) for bucket, key, path in state["local_code"]},
            base_dir=Path(state["base_dir"]),
        )
        previous = SimpleNamespace(plan=SimpleNamespace(stack_id=state["stack_id"], names=state["names"]))
        stack = cls(
            template, state["name"], state["region"], exports, origin=state["origin"], previous=previous
        )
        stack.plan.created = {n: Created(**c) for n, c in state["created"].items()}
        stack.plan.props = dict(state["props"])
        stack.capabilities = list(state["capabilities"])
        stack.status, stack.status_reason = state["status"], state["status_reason"]
        stack.events = [StackEvent(**e) for e in state["events"]]
        stack.warnings, stack.outputs = list(state["warnings"]), list(state["outputs"])
        stack.created_at, stack.updated_at = state["created_at"], state["updated_at"]
        stack._watched = {Path(folder): set(names) for folder, names in state["watched"].items()}
        stack.restored = True
        return stack

    def restore(self, sandbox) -> None:
        """A restored start (``Sandbox.start`` with a state directory that has a state): the stack the
        sandbox starts with is the one the state kept, whose resources came back with it. If the template
        (or its parameters) changed since, the kept one still runs, and a line says so. A stack the state
        has no record of (or only a rolled-back one) is created now."""
        kept = sandbox.template_stacks.kept(self.name)
        if kept is None or kept.get("status") == "ROLLBACK_COMPLETE":  # nothing of it exists
            try:
                self.create(sandbox)
            except TemplateError as exc:
                if kept is not None:
                    raise
                directory = getattr(sandbox.persistence, "directory", "")
                raise TemplateError(
                    f"{exc}\nThe state directory {directory} has no record of stack {self.name} "
                    f"(kept by an older sandbox?): start with --fresh to create it in a new "
                    f"state."
                ) from None
            return
        current_hash, current_parameters, current_source = (
            template_hash(self.template.text),
            self.template.parameters,
            self.template.source,
        )
        try:
            revived = TemplateStack.from_state(kept, sandbox.template_stacks.exports, sandbox.endpoint_url)
        except Exception as exc:
            raise ConfigError(
                f"Stack {self.name} is in the state directory {sandbox.persistence.directory} but "
                f"cannot be rebuilt from it ({exc}); start with --fresh to create it again."
            ) from None
        self.__dict__.update(revived.__dict__)  # this object stays the sandbox's stack
        sandbox.template_stacks.add(self)
        if kept["template_hash"] != current_hash:
            self.restore_notes.append(
                "template changed since the state was kept: the stack runs as the state kept it, without "
                f"the changes to {current_source}; run with --fresh to re-create it from the file, or "
                "update it with aws cloudformation package and deploy"
            )
        else:
            given, was = json.loads(json.dumps(current_parameters, default=str)), kept["parameters"]
            changed = sorted(k for k in set(given) | set(was) if given.get(k) != was.get(k))
            if changed:  # named, not shown: a parameter may be a secret (NoEcho)
                self.restore_notes.append(
                    f"parameters changed since the state was kept ({', '.join(changed)}): the stack runs "
                    "with the kept values; run with --fresh to re-create it with the new ones, or update it "
                    "with aws cloudformation deploy --parameter-overrides"
                )
        self.resume(sandbox)
        if sandbox.service is not None and self.default_function:
            sandbox.service.default_function = self.default_function

    def resume(self, sandbox) -> None:
        """A stack rebuilt from the state starts again: the endpoint's port of this run in its URLs, its
        folders watched (hot reload)."""
        self._port = sandbox.endpoint.port
        try:
            self.outputs = self._outputs()
        except Exception:
            pass  # as kept (an import from a stack no longer there)
        missing = sorted(str(folder) for folder in self._watched if not Path(folder).is_dir())
        for folder in missing:
            names = ", ".join(sorted(self._watched[Path(folder)]))
            self.restore_notes.append(f"{folder} no longer exists: {names} cannot run until it is back")
        self._watched = {
            folder: names for folder, names in self._watched.items() if str(folder) not in missing
        }
        self._watch(sandbox)
        for line in self.restore_notes:
            _say(sandbox, f"{self.name}: {line}")

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
        """A created resource by its logical id (``HelloWorldFunction``), as describe-stack-resource finds
        it."""
        if logical_id not in self.plan.created:
            raise ConfigError(f"Stack {self.name} has no resource {logical_id}.")
        return self.plan.created[logical_id]

    def output(self, key: str):
        for output in self.outputs:
            if output["key"] == key:
                return output["value"]
        raise ConfigError(f"Stack {self.name} has no output {key}.")

    def describe(self) -> dict:
        from sandbox.sam.triggers import triggers_by_function

        triggers = triggers_by_function(self.plan, self._port)
        functions = []
        declared = [str(k) for k in (self.template.original.get("Resources") or {})]

        def position(logical_id: str) -> int:  # the template's order, not the creation order
            origin = self.template.origin(logical_id) or logical_id
            return declared.index(origin) if origin in declared else len(declared)

        for logical_id in sorted(self.plan.order, key=position):
            if (
                self.plan.type_of(logical_id) != "AWS::Lambda::Function"
                or logical_id not in self.plan.created
            ):
                continue
            props, created = self.plan.props[logical_id], self.plan.created[logical_id]
            functions.append(
                {
                    "logical_id": logical_id,
                    "name": created.physical_id,
                    "from": self.template.origin(logical_id)
                    if self.template.origin(logical_id) != logical_id
                    else None,
                    "handler": props.get("Handler"),
                    "runtime": props.get("Runtime"),
                    "code": created.extra.get("folder") or "zip (through the Lambda API)",
                    "memory_size": int(props.get("MemorySize", DEFAULT_MEMORY_MB)),
                    "timeout": int(props.get("Timeout", DEFAULT_TIMEOUT_S)),
                    "triggers": triggers.get(created.physical_id, []),
                }
            )
        resources = [
            {
                "logical_id": n,
                "type": self.plan.type_of(n),
                "physical_id": self.plan.created[n].physical_id,
                "from": self.template.origin(n) if self.template.origin(n) != n else None,
            }
            for n in self.plan.order
            if n in self.plan.created
        ]
        return {
            "name": self.name,
            "template": self.template.source,
            "origin": self.origin,
            "description": self.template.description,
            "status": self.status,
            "created_at": self.created_at,
            "functions": functions,
            "resources": resources,
            "outputs": list(self.outputs),
            "notes": list(self.plan.notes),
            "warnings": self.restore_notes + list(self.warnings),
            "restored": list(self.restore_notes) if self.restored else None,
        }


def _moved(value, old_url: str, new_url: str):
    """``value`` with the local endpoint's old port replaced by this run's in its URLs (a queue's URL is
    ``http://127.0.0.1:<port>/...``)."""
    old, new = urlsplit(old_url).port, urlsplit(new_url).port
    if not old or not new or old == new:
        return value
    hosts = "|".join(re.escape(h) for h in ("localhost", "127.0.0.1", urlsplit(new_url).hostname) if h)
    pattern = re.compile(rf"(://(?:[A-Za-z0-9.-]*\.)?(?:{hosts})):{old}\b")

    def move(item):
        if isinstance(item, str):
            return pattern.sub(rf"\g<1>:{new}", item)
        if isinstance(item, list):
            return [move(i) for i in item]
        if isinstance(item, dict):
            return {k: move(v) for k, v in item.items()}
        return item

    return move(value)


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
