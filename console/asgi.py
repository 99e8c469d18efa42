"""ASGI entry point of the web process: HTTP (UI, REST API, admin) and websockets."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
django_app = get_asgi_application()

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
