"""``/api/applications``: the applications made from templates (``run_local.py --template FILE``,
``aws cloudformation deploy`` against the endpoint), each with its functions, their triggers and its
Outputs, grouped by stack as the CloudFormation console groups them. Read-only, behind the same Host and
token rules as every other route (security.py): a stack is changed through CloudFormation's API, not here.
An empty list when no template made anything (the page then says how to run one)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from web import context
from web.applications import applications_view

bp = Blueprint("applications", __name__, url_prefix="/api/applications")


@bp.get("")
def list_applications():
    return jsonify(applications=applications_view(context.sandbox().applications()))
