"""`automl`: the console's command-line client. It speaks only the public REST API and the
websocket (docs/api.md), so anything it does a script can do with curl."""
