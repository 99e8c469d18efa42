"""Query filters for the registry's lists (`?status=SUCCEEDED&created_after=...`), as the jobs
app's lists take them."""

from __future__ import annotations

import django_filters

from models_registry.models import BatchPrediction


class BatchPredictionFilter(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = BatchPrediction
        fields = ["status", "model_version", "dataset"]
