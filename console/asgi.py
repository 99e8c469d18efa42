"""ASGI entry point of the web process: HTTP (UI, REST API, admin) and websockets."""

import gc
import os
from typing import Any, cast

import django
from a2wsgi import WSGIMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
django.setup(set_prefix=False)  # before the imports below; builds no handler left unused
from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

# Django's views run through its WSGI handler, on a fixed pool of threads (WEB_HANDLER=asgi:
# Django's own ASGI handler). That one ran every request in a new thread and crossed between
# the event loop and the thread at each middleware that is not async-ready: a job submission
# cost the web 7.8 ms of CPU against 6.5, and a burst of 20 submissions had a p99 of 228 ms
# against 196 (docs/benchmarks.md, the API's cost). Every view is synchronous; what must not
# hold a thread (uploads streamed to staging, the prediction door, websockets) is answered
# before Django, below.
django_app: Any = (
    get_asgi_application()
    if settings.WEB_HANDLER == "asgi"
    # (Django's stubs type its response as a response, which is the iterable WSGI wants)
    else WSGIMiddleware(cast(Any, get_wsgi_application()), workers=settings.WEB_THREADS)
)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from console import logs  # noqa: E402
from console.websocket_auth import BrowserOriginValidator  # noqa: E402
from jobs.routing import websocket_urlpatterns as jobs_sockets  # noqa: E402
from jobs.upload_stream import UploadStreamMiddleware  # noqa: E402
from models_registry.door import PredictDoor  # noqa: E402
from models_registry.routing import websocket_urlpatterns as registry_sockets  # noqa: E402

logs.install(*logs.UVICORN_LOGGERS)
websocket_urlpatterns = [*jobs_sockets, *registry_sockets]

application = ProtocolTypeRouter(
    {
        # The door to the predictor answers before Django: see models_registry.door.
        "http": PredictDoor(UploadStreamMiddleware(django_app)),
        "websocket": BrowserOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# Everything imported now lives as long as the process: out of every full garbage collection's
# walk, which would otherwise stall all requests in flight (models_registry.predictor.heap).
gc.freeze()
