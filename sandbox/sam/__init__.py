"""SAM and CloudFormation templates, run in the sandbox: "a SAM template is only another way to create the
same functions and sources through the same APIs a user would call".

template.py reads and expands a template (cfn-lint, aws-sam-translator), plan.py decides what runs and in
which order, stack.py creates each resource through the local endpoint's AWS APIs (resources/), resolving
intrinsic functions as it goes (intrinsics.py). ``run_local.py --template`` starts the sandbox with a
``TemplateStack``; ``aws cloudformation deploy`` creates one through cloudformation.py.

The path from template to running functions: docs/sam-internals.md.
"""

from __future__ import annotations

from sandbox.sam.intrinsics import TemplateError
from sandbox.sam.plan import TemplateNotRunnable
from sandbox.sam.stack import TemplateStack
from sandbox.sam.template import parse_parameter_overrides

__all__ = ["TemplateStack", "TemplateError", "TemplateNotRunnable", "parse_parameter_overrides"]
