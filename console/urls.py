from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from console import api, views
from jobs.api import DatasetViewSet, UploadViewSet
from jobs.training_api import JobTrialViewSet, JobViewSet
from models_registry.api import AuditEventViewSet, ModelVersionViewSet, RegisteredModelViewSet
from models_registry.batch_api import BatchPredictionViewSet
from models_registry.deployments_api import DeploymentViewSet
from models_registry.keys_api import DeploymentKeysView, DeploymentKeyView
from models_registry.workspaces import WorkspaceViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
# No `.json` twin of every route: the API speaks JSON only, and the twins of the extra actions
# answered 500 (their methods take no `format` argument; tests/console/test_outsider_walk.py).
router.include_format_suffixes = False
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("uploads", UploadViewSet, basename="upload")
router.register("jobs", JobViewSet, basename="job")
router.register(r"jobs/(?P<job_pk>[^/.]+)/trials", JobTrialViewSet, basename="job-trial")
router.register("models", RegisteredModelViewSet, basename="model")
router.register("model-versions", ModelVersionViewSet, basename="model-version")
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("registry-audit", AuditEventViewSet, basename="registry-audit")
router.register("audit", api.AuditViewSet, basename="audit")
router.register("workspaces", WorkspaceViewSet, basename="workspace")
router.register("batch-predictions", BatchPredictionViewSet, basename="batch-prediction")
router.register("auth/tokens", api.ApiTokenViewSet, basename="api-token-personal")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz),
    path("favicon.ico", views.favicon),
    path("api/v1/auth/token/", api.ObtainToken.as_view(), name="api-token"),
    path("api/v1/auth/me/", api.me, name="api-me"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", api.SwaggerDocs.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/redoc/", api.RedocDocs.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/deployments/<slug:name>/keys/", DeploymentKeysView.as_view()),
    path("api/v1/deployments/<slug:name>/keys/<int:key_id>/", DeploymentKeyView.as_view()),
    path("api/v1/", include(router.urls)),
    path("", views.app_shell, name="app"),
]

handler404 = "console.views.not_found"
handler500 = "console.views.server_error"
