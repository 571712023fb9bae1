"""The Lambda service, as AWS runs it: functions and their code, the Lambda API's hooks, synchronous and
asynchronous invocation (retries, dead letters, recursion), event source mappings, and the execution
environments (worker processes speaking the Runtime API, their CPU share and limits). Named ``lambda_``
because ``lambda`` is Python's keyword. It knows no event source, endpoint or page."""
