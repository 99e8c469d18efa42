"""The predictor service's settings: the console's. Its requests never pass through Django
(see models_registry.predictor.app); Django is there for the ORM its watcher thread uses."""

from console.settings import *  # noqa: F403
