import logging
import os
from typing import Any

from billiard.process import current_process
from celery import Celery
from celery.signals import (
    task_prerun,
    worker_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
    worker_shutting_down,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
# Before any backend is imported: take GPU memory as needed and give it back between trials,
# instead of jax/tensorflow reserving most of the card at start-up (torch already grows).
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

logger = logging.getLogger(__name__)

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _preload_engine(sender: Any = None, **_: Any) -> None:
    # Each job runs in a fresh child (--max-tasks-per-child 1): importing Keras, torch and the
    # engine once here, before the pool forks, saves every job those seconds of imports. Not
    # where the worker takes gpu jobs: Keras' torch backend asks CUDA about devices on import,
    # and CUDA does not survive a fork, so there the job's child imports it (_before_job). Nor
    # in a worker of short tasks only (profiling), which never trains: it stays small.
    queues = set(sender.app.amqp.queues.consume_from) if sender is not None else set()
    if "gpu" not in queues and "cpu" in queues:
        import jobs.engine.search  # noqa: F401

        _freeze_imports()


# Tasks that take every core they are given for minutes to hours. They run at a lower CPU
# priority (settings.TRAINING_NICENESS) than the web and the predictor sharing the machine:
# at equal priority the API's answers and the live progress waited behind the search (web
# p99 418 ms with two jobs training on two cores, bench/load.py). Profiling is short and the
# user waits for it: it keeps its priority.
BACKGROUND_TASKS = frozenset(
    {
        "jobs.tasks.run_training_job",
        "jobs.tasks.run_trials",
        "models_registry.tasks.run_batch_prediction",
    }
)


@task_prerun.connect
def _before_job(sender: Any = None, **_: Any) -> None:
    name = getattr(sender, "name", "")
    if name in BACKGROUND_TASKS:
        lower_priority()
    if name == "jobs.tasks.run_training_job":
        import jobs.engine.search  # noqa: F401

        _freeze_imports()


def lower_priority() -> None:
    """Take the background niceness, never a higher priority than the process has. On Linux
    it is the calling thread's, and the threads it starts later (torch's) inherit it; a pool
    child runs one task (--max-tasks-per-child 1), so it ends with the task."""
    from django.conf import settings

    wanted = settings.TRAINING_NICENESS
    if wanted > os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, wanted)


def _freeze_imports() -> None:
    # Keras Tuner and the engine collect garbage around every trial (gc.collect() and
    # clear_session(), four times per trial); with Keras and torch loaded each pass walks
    # millions of import-time objects (~0.2 s). Freezing them, which are never garbage, makes
    # a pass take milliseconds: 8 trials of a small search ran in 5.4 s instead of 12.2 s.
    import gc

    gc.collect()
    gc.freeze()


@worker_ready.connect
def _start_reaper(sender: Any = None, **_: Any) -> None:
    # Celery's start-up hook: the worker's main process outlives its recycled children.
    from jobs import reaper

    queues = list(sender.app.amqp.queues.consume_from) if sender is not None else []
    reaper.start(worker=getattr(sender, "hostname", ""), queues=queues)


@worker_shutdown.connect
def _forget_worker(sender: Any = None, **_: Any) -> None:
    from jobs import services

    if getattr(sender, "hostname", ""):
        try:
            services.worker_gone(name=sender.hostname)
        except Exception:  # a stopping worker must not fail on the database
            logger.warning("Could not forget worker %s", sender.hostname)


@worker_process_init.connect
def _ignore_stop_notice(**_: Any) -> None:
    from jobs import worker_shutdown

    worker_shutdown.ignore_notice()


def card_for(index: int, cards: list[str]) -> str | None:
    """The GPU a pool process trains on: its pool index picks one of the worker's cards. A
    child that replaces one (--max-tasks-per-child 1) takes the index it freed, so each card
    keeps exactly one process."""
    return cards[index % len(cards)] if cards else None


@worker_process_init.connect
def _pin_card(**_: Any) -> None:
    # In the new child, before anything in it has initialised CUDA: the parent of a gpu
    # worker imports no backend (_preload_engine), so the child's torch sees only this card.
    from django.conf import settings

    index = getattr(current_process(), "index", 0)
    card = card_for(index, settings.GPU_DEVICES)
    if card is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = card
        logger.info("Pool process %d (pid %d) trains on GPU %s", index, os.getpid(), card)


@worker_shutting_down.connect
def _tell_training_children(**_: Any) -> None:
    # Runs in the main process's signal handler: a training job stops at its next batch and
    # goes back to the queue, instead of the shutdown waiting for its whole search.
    from jobs import worker_shutdown

    worker_shutdown.notify_children()
