"""S3 as the sandbox adds to moto: its key limit (``key_limits.py``), and the S3 trigger: every completed
write seen at the endpoint (``write_observer.py``), matched against the bucket's notification configuration
(``notifications.py``), becomes the event AWS sends (``events.py``), delivered asynchronously
(``source.py``)."""
