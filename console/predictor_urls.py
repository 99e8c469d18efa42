from django.urls import path

from models_registry.serving import HealthView, PredictView

urlpatterns = [
    path("healthz", HealthView.as_view()),
    path("v1/deployments/<slug:name>/predict", PredictView.as_view()),
]
