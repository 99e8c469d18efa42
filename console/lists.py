"""The one list vocabulary every `/api/v1/` list speaks (docs/api.md, "Lists"):

`created_after`/`created_before`, `owner=<username>`, the resource's own `status`/`task_type`,
`ordering=` from an explicit allow-list, and on lists of trained models (jobs, model versions)
`metric=<name>` with `min_metric`/`max_metric` and `ordering=metric`.

Filters only narrow the queryset the view's selector already scoped to the user: `owner=` picks
among what the user may see (a workspace teammate's models), it never widens it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar, NoReturn

import django_filters
from django import forms
from django.db import NotSupportedError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, FloatField, Func, OrderBy, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request

METRIC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# The annotation `?metric=` adds: what `ordering=metric` and the cursor read.
METRIC = "metric"


class JSONNumber(Func):
    """The number under `key` in a JSON object column; NULL where the key is missing or holds
    anything but a number. Metrics hold lists and objects too (a confusion matrix, per-class
    scores): a plain cast of those would fail on PostgreSQL and read as 0 on SQLite."""

    output_field = FloatField()

    def __init__(self, column: str, key: str) -> None:
        if not METRIC_NAME.fullmatch(key):
            raise ValueError(f"Not a metric name: {key!r}")
        self.key = key
        super().__init__(F(column))

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> NoReturn:
        raise NotSupportedError(f"JSONNumber has no SQL for {connection.vendor}.")

    def _column(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, Any]:
        return compiler.compile(self.get_source_expressions()[0])

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, list[Any]]:
        column, params = self._column(compiler, connection)
        sql = (
            f"(CASE WHEN jsonb_typeof({column} -> %s) = 'number' "
            f"THEN ({column} ->> %s)::double precision END)"
        )
        return sql, [*params, self.key, *params, self.key]

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, list[Any]]:
        column, params = self._column(compiler, connection)
        # METRIC_NAME keeps the key free of quotes, so the path needs no escaping.
        path = f'$."{self.key}"'
        sql = (
            f"(CASE WHEN json_type({column}, %s) IN ('integer', 'real') "
            f"THEN CAST(json_extract({column}, %s) AS REAL) END)"
        )
        return sql, [*params, path, *params, path]


class ListFilter(django_filters.FilterSet):
    """`created_after`/`created_before` on `created_at`, as every list with a creation date."""

    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Created at or after (ISO 8601)."
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Created before (ISO 8601)."
    )


class IdFilter(django_filters.Filter):
    """Another row's id. Unlike django-filter's default for a foreign key, any integer is
    valid: an id the user cannot see finds nothing, the same answer as one that does not
    exist, so a filter cannot tell which ids exist."""

    field_class = forms.IntegerField


def id_filter(field_name: str, help_text: str) -> IdFilter:
    return IdFilter(field_name=field_name, help_text=help_text)


def owner_filter(field_name: str = "owner__username") -> django_filters.CharFilter:
    return django_filters.CharFilter(
        field_name=field_name,
        help_text="The owner's username; narrows what you may see, never widens it.",
    )


class MetricFilter(ListFilter):
    """`?metric=<name>` reads that recorded metric from `metric_column` (a JSON object);
    `min_metric`/`max_metric` keep rows whose value lies in the range (rows without a numeric
    value drop out), `ordering=metric`/`-metric` sorts by it with the rows lacking it last."""

    metric_column: ClassVar[str]

    metric = django_filters.CharFilter(
        method="_applied_in_filter_queryset",
        help_text="A recorded metric's name (accuracy, roc_auc, rmse, ...): what "
        "`min_metric`, `max_metric` and `ordering=metric` read.",
    )
    min_metric = django_filters.NumberFilter(
        method="_applied_in_filter_queryset", help_text="Keep rows whose metric is >= this."
    )
    max_metric = django_filters.NumberFilter(
        method="_applied_in_filter_queryset", help_text="Keep rows whose metric is <= this."
    )

    def _applied_in_filter_queryset(self, queryset: QuerySet[Any], name: str, value: Any) -> Any:
        return queryset

    def is_valid(self) -> bool:
        valid = bool(super().is_valid())
        data = self.form.cleaned_data
        name = data.get("metric")
        if name and not METRIC_NAME.fullmatch(name):
            self.form.add_error(
                "metric", "A metric name: a letter, then letters, digits or _ (64 at most)."
            )
        for bound in ("min_metric", "max_metric"):
            if data.get(bound) is not None and not name:
                self.form.add_error(bound, "Name the metric it bounds: ?metric=<name>.")
        return valid and not self.form.errors

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        data = self.form.cleaned_data
        if data.get("metric"):
            queryset = queryset.annotate(**{METRIC: JSONNumber(self.metric_column, data["metric"])})
            if data.get("min_metric") is not None:
                queryset = queryset.filter(**{f"{METRIC}__gte": data["min_metric"]})
            if data.get("max_metric") is not None:
                queryset = queryset.filter(**{f"{METRIC}__lte": data["max_metric"]})
        return super().filter_queryset(queryset)


def order_by(terms: Sequence[str]) -> list[OrderBy]:
    """`-name` terms as expressions that put NULLs last both ways, on every database
    (PostgreSQL and SQLite disagree on where NULLs go by default)."""
    return [
        F(t[1:]).desc(nulls_last=True) if t.startswith("-") else F(t).asc(nulls_last=True)
        for t in terms
    ]


class ListFilters(DjangoFilterBackend):
    """django-filter's backend, skipped when the call names none of the list's filters: the
    lists the UI and scripts poll most ask for none, and building the filter set's form for
    nothing cost about a tenth of a list's CPU (a profile of the job list)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or request.query_params.keys().isdisjoint(
            filterset_class.base_filters
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)


class AllowListOrdering(OrderingFilter):
    """`?ordering=a,-b` from the view's `ordering_fields`, and nothing else: an unknown field
    is a 400 in the one error format (DRF's own filter drops it silently, which hides typos
    and sorts the list in an order the caller did not ask for)."""

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        given = request.query_params.get(self.ordering_param)
        if not given:
            return self.get_default_ordering(view)
        allowed = self.allowed(view)
        terms = [term.strip() for term in given.split(",") if term.strip()]
        unknown = [t for t in terms if t.lstrip("-") not in allowed]
        if unknown or not terms:
            raise ValidationError(
                {
                    self.ordering_param: [
                        f"Unknown ordering field: {', '.join(unknown) or given!r}. "
                        f"Choose from: {', '.join(allowed) or 'none'} ('-' for descending)."
                    ]
                }
            )
        if any(t.lstrip("-") == METRIC for t in terms) and METRIC not in queryset.query.annotations:
            needs = "Ordering by metric needs the metric's name: ?metric=<name>."
            raise ValidationError({self.ordering_param: [needs]})
        return terms

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        ordering = self.get_ordering(request, queryset, view)
        return queryset.order_by(*order_by(ordering)) if ordering else queryset

    @staticmethod
    def allowed(view: Any) -> Sequence[str]:
        return list(getattr(view, "ordering_fields", None) or [])

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        allowed = self.allowed(view)
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": (
                    "Comma-separated fields to order by, '-' first for descending: "
                    f"{', '.join(allowed)}. Ties fall back to the id; rows without a value "
                    "come last. Any other field is a 400."
                ),
                "schema": {"type": "string"},
            }
        ]
