from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class ConsoleConfig(AppConfig):
    name = "console"

    def ready(self) -> None:
        # Connects the failed-sign-in counter to Django's signal.
        from console import signin_limit  # noqa: F401

        # The embedded default's broker is a set of folders; every process that may enqueue
        # (web, worker, a management command) needs them, not only those `runconsole` starts.
        if settings.EMBEDDED:
            for key in ("data_folder_in", "processed_folder", "control_folder"):
                Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key])).mkdir(
                    parents=True, exist_ok=True
                )
