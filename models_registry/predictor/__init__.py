"""The predictor service: a lean ASGI app that keeps deployed models loaded and answers them.

- `directory`: who may call what, held in memory (tokens, deployments, API keys) and
  refreshed when the database says it changed (PostgreSQL NOTIFY), with a slow poll besides.
- `hosting`: loads versions (sha256 check, Keras safe mode), warms them, and switches a
  deployment to a new version only once it is warm; old versions finish their queue.
- `batching`: one inference thread runs the requests that arrived together as one batch.
- `app`: the HTTP surface (v1 predict, Open Inference Protocol v2, health, metrics).
"""
