"""``run_local.py bench``: the parts it can run (``--only``); runner.py runs them."""

# Parts that live in a module of their own, each with a run() that prints its figures and returns them.
MODULE_PARTS = (  # (part, module, heading)
    ("cpu", "memory_buys_cpu", "CPU share: memory buys CPU, as on AWS"),
    ("mappings", "event_source_mappings", "queues and streams"),
    ("api", "api_gateway", "API Gateway, warm"),
    ("schedules", "schedules", "scheduled events"),
    ("sns", "sns_fanout", "SNS fan-out: 1,000 messages to a function and a queue, each exactly once"),
    ("page", "page", "the page, watched by a class: watching must not slow the sandbox down"),
    ("state", "state_dir", "the state directory: nothing lost across restarts, at little cost"),
    ("clone", "fresh_clone", "a newcomer's first minute: a fresh clone to ready with make run"),
)
PARTS = ("ready", "pipeline", "runtime", "image") + tuple(part for part, _, _ in MODULE_PARTS)
