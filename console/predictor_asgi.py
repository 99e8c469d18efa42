"""ASGI entry point of the predictor service (its own process, one of many replicas).

Django is set up for the ORM (the watcher thread reads the database); requests never touch
it: see models_registry.predictor.app.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.predictor_settings")

import django

django.setup()

from models_registry.predictor.app import application  # noqa: E402

__all__ = ["application"]
