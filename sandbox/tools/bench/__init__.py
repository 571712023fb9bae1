"""``run_local.py bench``: the parts it can run (``--only``); runner.py runs them."""

# Parts that live in a module of their own, each with a run() that prints its figures and returns them.
MODULE_PARTS = (  # (part, module, heading)
    ("cpu", "cpu_share", "CPU share (issue: memory buys CPU, as on AWS)"),
    ("mappings", "event_source_mappings", "queues and streams (issue: the guide's other triggers)"),
    ("api", "api_gateway", "API Gateway, warm (issue: the guide's other triggers)"),
    ("schedules", "schedules", "scheduled events (issue: the guide's other triggers)"),
    ("page", "page", "the page, watched by a class (issue 17: watching must not slow the sandbox down)"),
    ("state", "state", "the state directory (issue 16: nothing lost across restarts, at little cost)"),
)
PARTS = ("pipeline", "runtime", "image") + tuple(part for part, _, _ in MODULE_PARTS)
