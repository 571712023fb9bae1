"""The local AWS endpoint: moto's services served in-process over HTTP (``server.py``), who may use them
(``access.py``), S3's key limits, and the sandbox's own ``/_sandbox/`` API."""
