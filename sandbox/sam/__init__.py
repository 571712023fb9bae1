"""SAM and CloudFormation templates, run in the sandbox: "a SAM template is only another way to create the
same functions and sources through the same APIs a user would call".

    template.yaml ─ decode (cfn-lint) ─ parameters ─ SAM transform (aws-sam-translator, with Globals)
        └─ plan.py: conditions, what the sandbox can run (refused by name before anything starts),
                    dependency order, physical names (CloudFormation's)
             └─ stack.py: each resource created through the local endpoint's AWS APIs (resources/),
                          intrinsic functions resolved as it goes (intrinsics.py); functions run from
                          their CodeUri folders with hot reload (build.py, watcher.py)
                  └─ the event sources run the triggers as for anything else created through the APIs

- ``run_local.py --template template.yaml`` starts the sandbox with ``TemplateStack`` instead of the
  guide's stack (the ``stack=`` seam of :class:`sandbox.core.Sandbox`, see sandbox/guide/stack.py);
- ``aws cloudformation deploy`` against the local endpoint creates a ``TemplateStack`` through
  CloudFormation's API, which the sandbox answers itself (cloudformation.py);
- ``Sandbox.applications()`` describes them for the page: functions, their triggers, outputs.
"""
from __future__ import annotations

from sandbox.sam.intrinsics import TemplateError
from sandbox.sam.plan import TemplateNotRunnable
from sandbox.sam.stack import TemplateStack
from sandbox.sam.template import parse_parameter_overrides

__all__ = ["TemplateStack", "TemplateError", "TemplateNotRunnable", "parse_parameter_overrides"]
