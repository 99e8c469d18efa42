import os
from typing import Any

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _start_reaper(**_: Any) -> None:
    # Celery's start-up hook: the worker's main process outlives its recycled children.
    from jobs import reaper

    reaper.start()
