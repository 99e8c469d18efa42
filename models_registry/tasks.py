from __future__ import annotations

import os
import socket

from celery import shared_task

from models_registry.batch import batch_prediction_claim


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_batch_prediction(prediction_id: int) -> None:
    """Claim a queued batch prediction and score it; a redelivered message finds it claimed
    (or cancelled) and stops."""
    prediction = batch_prediction_claim(
        prediction_id=prediction_id, worker=f"{socket.gethostname()}:{os.getpid()}"
    )
    if prediction is None:
        return
    # Imported here, in the pool's child, as console.celery does for training: scoring loads
    # Keras and torch, which must not enter the web process (Celery discovers this module
    # there) nor a gpu worker's parent before it forks (CUDA does not survive a fork).
    from models_registry.batch_run import batch_prediction_run

    batch_prediction_run(prediction=prediction)
