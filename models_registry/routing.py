from django.urls import path

from models_registry.consumers import DeploymentConsumer

websocket_urlpatterns = [
    path("ws/deployments/<slug:name>/", DeploymentConsumer.as_asgi()),
]
