"""Before anything is created: what a template will create, in which order, under which names, and
whether the sandbox can run all of it.

As CloudFormation does: ``Conditions`` are evaluated from the parameters; a resource whose ``Condition``
is false is left out; ``Fn::If`` picks its branch; the resources are ordered so that each comes after what
it refers to (``Ref``, ``Fn::GetAtt``, ``${...}`` in ``Fn::Sub``, ``DependsOn``). Unlike CloudFormation,
the whole template is checked against what the sandbox runs first, and every resource type, property or
intrinsic function it can't run is reported by name (with the resource and its line) before anything
starts; what it accepts but has no effect here (X-Ray tracing, encryption at rest...) is noted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sandbox.config import ACCOUNT_ID
from sandbox.sam.intrinsics import (
    CONDITION_FUNCTIONS,
    FUNCTIONS,
    Resolver,
    TemplateError,
    Unresolved,
    references,
)
from sandbox.sam.resources import KINDS, Created, unsupported_reason
from sandbox.sam.template import ExpandedTemplate

RESOURCE_KEYS = {
    "Type",
    "Properties",
    "DependsOn",
    "Condition",
    "Metadata",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
}


@dataclass(frozen=True)
class Problem:
    logical_id: str
    resource_type: str
    message: str
    line: int | None = None
    origin: str | None = None  # the template's resource the SAM transform made this one from
    origin_type: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        if self.origin and self.origin != self.logical_id:
            return (
                f"{where}{self.origin} ({self.origin_type}) makes {self.logical_id} ({self.resource_type}): "
                f"{self.message}"
            )
        if self.origin_type and self.origin_type != self.resource_type:
            return f"{where}{self.logical_id} ({self.origin_type} -> {self.resource_type}): {self.message}"
        return f"{where}{self.logical_id} ({self.resource_type}): {self.message}"


class TemplateNotRunnable(TemplateError):
    def __init__(self, source: str, problems: list[Problem]):
        self.problems = problems
        super().__init__(
            f"{source} uses what the sandbox can't run; nothing was created:\n"
            + "\n".join(f"  {p}" for p in problems)
        )


def pseudo_parameters(stack_name: str, region: str, stack_id: str) -> dict:
    return {
        "AWS::Region": region,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::StackName": stack_name,
        "AWS::StackId": stack_id,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
    }


class Plan:
    def __init__(
        self,
        template: ExpandedTemplate,
        stack_name: str,
        region: str,
        exports=dict,
        stack_id: str | None = None,
        names: dict | None = None,
    ):
        """``stack_id`` and ``names``: those of the stack this plan updates (its resources keep their
        names)."""
        self.template = template
        self.stack_name = stack_name
        self.region = region
        self.stack_id = (
            stack_id or f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{stack_name}/{uuid.uuid4()}"
        )
        expanded = template.expanded
        self.resources: dict = {str(k): v for k, v in (expanded.get("Resources") or {}).items()}
        self.created: dict[str, Created] = {}
        self.props: dict[str, dict] = {}  # each created resource's properties, resolved when it was created
        self.resolver = Resolver(
            parameters=template.parameters,
            pseudo=pseudo_parameters(stack_name, region, self.stack_id),
            conditions=expanded.get("Conditions") or {},
            mappings=expanded.get("Mappings") or {},
            resource_value=self._value,
            is_resource=lambda name: name in self.resources,
            exports=exports,
            region=region,
        )
        self.notes: list[str] = []
        self.included = [name for name, resource in self.resources.items() if self._wanted(resource)]
        self.static = {
            name: self.resolver.resolve((self.resources[name] or {}).get("Properties") or {}, partial=True)
            for name in self.included
        }
        problems = self._problems()
        if problems:
            raise TemplateNotRunnable(template.source, problems)
        self.order = self._ordered()
        self.names = {
            name: (names or {}).get(name)
            or KINDS[self.type_of(name)].physical_name(stack_name, name, self.static[name])
            for name in self.order
        }

    # -- what the resources need of the plan ----------------------------------------------------------
    def type_of(self, logical_id: str) -> str | None:
        resource = self.resources.get(logical_id)
        return resource.get("Type") if isinstance(resource, dict) else None

    def metadata(self, logical_id: str) -> dict:
        return dict((self.resources.get(logical_id) or {}).get("Metadata") or {})

    def note(self, logical_id: str, text: str) -> None:
        line = self.template.line_of(logical_id)
        self.notes.append(f"{'line ' + str(line) + ': ' if line else ''}{logical_id}: {text}")

    def _value(self, name: str, attribute: str | None):
        if name not in self.created:
            raise Unresolved(name)
        created = self.created[name]
        if attribute is None:
            return created.ref
        if attribute not in created.attributes:
            raise TemplateError(
                f"Template error: resource {name} does not support attribute type {attribute} in Fn::GetAtt"
            )
        return created.attributes[attribute]

    def resolved(self, logical_id: str) -> dict:
        """The resource's properties with everything resolved (what it refers to exists by now)."""
        return self.resolver.resolve(self.static[logical_id])

    def _wanted(self, resource) -> bool:
        condition = resource.get("Condition") if isinstance(resource, dict) else None
        return condition is None or self.resolver.condition(str(condition))

    # -- checks ----------------------------------------------------------------------------------------
    def _problems(self) -> list[Problem]:
        problems = []
        for name in self.included:
            resource = self.resources[name]
            kind_name = str(resource.get("Type"))
            found = [f"{key} is not run by the sandbox" for key in resource if key not in RESOURCE_KEYS]
            found += [
                f"uses {fn}, an intrinsic function the sandbox does not resolve"
                for fn in sorted(_functions_in(resource.get("Properties")) - FUNCTIONS - CONDITION_FUNCTIONS)
            ]
            kind = KINDS.get(kind_name)
            if kind is None:
                found.append(unsupported_reason(kind_name))
            else:
                props = self.static[name]
                for prop in props:
                    if prop in kind.noted:
                        self.note(name, f"{prop}: {kind.noted[prop]}")
                    elif prop not in kind.properties:
                        found.append(f"property {prop} is not run by the sandbox")
                found += kind.check(name, props, self)
                build = self.metadata(name).get("BuildMethod")
                if build and not str(build).startswith("python"):
                    found.append(
                        f"Metadata.BuildMethod {build}: the sandbox stands in for Python builds only"
                    )
            origin = self.template.origin(name)
            for message in found:
                problems.append(
                    Problem(
                        name,
                        kind_name,
                        message,
                        self.template.line_of(name),
                        origin,
                        self.template.original_type(origin) if origin else None,
                    )
                )
        return problems

    def _ordered(self) -> list[str]:
        """The included resources, each after those it depends on (in template order otherwise)."""
        needs: dict[str, set] = {}
        for name in self.included:
            resource = self.resources[name]
            depends = resource.get("DependsOn") or []
            wanted = references(self.static[name]) | set([depends] if isinstance(depends, str) else depends)
            missing = sorted(w for w in wanted if w in self.resources and w not in self.included)
            if missing:
                raise TemplateError(
                    f"{self.template.source}: Template format error: Unresolved resource "
                    f"dependencies [{', '.join(missing)}] in the Resources block of the template "
                    f"(their Condition is false)"
                )
            unknown = sorted(
                str(w)
                for w in wanted
                if w not in self.resources
                and w not in self.template.parameters
                and not str(w).startswith("AWS::")
            )
            if unknown:
                raise TemplateError(
                    f"{self.template.source}: Template format error: Unresolved resource "
                    f"dependencies [{', '.join(unknown)}] in the Resources block of the template"
                )
            needs[name] = {w for w in wanted if w in self.resources and w != name}
        order, done = [], set()
        while len(order) < len(needs):
            ready = [n for n in needs if n not in done and needs[n] <= done]
            if not ready:
                stuck = sorted(n for n in needs if n not in done)
                raise TemplateError(
                    f"{self.template.source}: Circular dependency between resources: [{', '.join(stuck)}]"
                )
            order.append(ready[0])
            done.add(ready[0])
        return order


def _functions_in(value) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.startswith("Fn::"):
                found.add(key)
            found |= _functions_in(item)
    elif isinstance(value, list):
        for item in value:
            found |= _functions_in(item)
    return found
