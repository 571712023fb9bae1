"""The edit loop: a saved file reaches the next invocation (hot reload), and a watched folder's new files
are uploaded to the source bucket."""
