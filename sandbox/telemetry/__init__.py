"""What an invocation leaves behind: CloudWatch Logs (groups, streams, the platform lines), CloudWatch
metrics, and the price of each invocation."""
