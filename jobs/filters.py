"""Query filters for the jobs app's lists (`?status=READY&created_after=...`), in the one list
vocabulary of console.lists."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from console.lists import ListFilter, MetricFilter, id_filter, owner_filter
from jobs.models import Dataset, TrainingJob, Trial


class DatasetFilter(ListFilter):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")
    owner = owner_filter()

    class Meta:
        model = Dataset
        fields = ["status", "kind"]


class JobFilter(MetricFilter):
    # A finished job's test-split metrics: those of the model it registered.
    metric_column = "test_metrics"
    owner = owner_filter()
    dataset = id_filter("dataset", "A dataset's id.")
    retry_of = id_filter("retry_of", "A job's id: the jobs that retry it.")
    search = django_filters.CharFilter(
        method="filter_search", help_text="Part of the dataset's name or of the target column."
    )

    class Meta:
        model = TrainingJob
        fields = ["status", "task_type", "queue", "priority"]

    def filter_search(
        self, queryset: QuerySet[TrainingJob], name: str, value: str
    ) -> QuerySet[TrainingJob]:
        return queryset.filter(Q(dataset__name__icontains=value) | Q(target__icontains=value))


class TrialFilter(django_filters.FilterSet):
    """A job's trials (`/api/v1/jobs/<id>/trials/?status=FAILED`); they have no creation date
    or owner of their own, so only the status."""

    class Meta:
        model = Trial
        fields = ["status"]
