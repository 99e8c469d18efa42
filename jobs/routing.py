from django.urls import path

from jobs.consumers import DatasetProgressConsumer, ProgressConsumer

websocket_urlpatterns = [
    path("ws/jobs/<int:object_id>/", ProgressConsumer.as_asgi()),
    path("ws/datasets/<int:object_id>/", DatasetProgressConsumer.as_asgi()),
]
