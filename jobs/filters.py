"""Query filters for the jobs app's lists (`?status=READY&created_after=...`)."""

from __future__ import annotations

import django_filters

from jobs.models import Dataset, TrainingJob


class DatasetFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Dataset
        fields = ["status", "kind"]


class JobFilter(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = TrainingJob
        fields = ["status", "task_type", "dataset", "queue"]
