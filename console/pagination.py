"""Cursor pagination for every list: stable under inserts (a new job does not shift the next
page by one, as offsets do) and as cheap on page 100 as on page 1.

A cursor holds the whole sort key of the row it stops at (every `ordering=` field and the id
that breaks ties), and the next page is the rows strictly after that key. DRF's own cursor
keeps only the first field plus an offset into its ties, which breaks on NULLs (a metric a
version lacks, a job not yet started) and grows with long runs of equal values."""

from __future__ import annotations

import json
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Model, OrderBy, Q, QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param

from console.lists import AllowListOrdering


@dataclass(frozen=True)
class Key:
    """Where a page stops: the sort key's values, and which way the page looked from it."""

    reverse: bool
    values: tuple[Any, ...]


def _direction(term: str, reverse: bool) -> tuple[str, bool]:
    """The field, and whether it sorts descending, for the query that reads the page."""
    return term.lstrip("-"), term.startswith("-") != reverse


def _nullable(model: type[Model], name: str) -> bool:
    try:
        return bool(getattr(model._meta.get_field(name), "null", True))
    except FieldDoesNotExist:  # an annotation (`?metric=`) may be NULL
        return True


def _after(model: type[Model], terms: tuple[str, ...], values: tuple[Any, ...], reverse: bool) -> Q:
    """Rows strictly after `values` in the order the query reads: NULLs last going forward,
    so first when a previous page reads the order backwards."""
    nothing = Q(pk__in=[])
    condition = nothing
    # Built from the last field outwards: after(i) = past field i, or equal there and after(i+1).
    for term, value in reversed(list(zip(terms, values, strict=True))):
        name, descending = _direction(term, reverse)
        nullable = _nullable(model, name)
        if value is None:
            past = Q(**{f"{name}__isnull": False}) if reverse else nothing
            same = Q(**{f"{name}__isnull": True})
        else:
            past = Q(**{f"{name}__{'lt' if descending else 'gt'}": value})
            if nullable and not reverse:
                past |= Q(**{f"{name}__isnull": True})
            same = Q(**{name: value})
        condition = past | (same & condition) if condition is not nothing else past
    return condition


def _expressions(terms: tuple[str, ...], reverse: bool) -> list[OrderBy]:
    out = []
    for term in terms:
        name, descending = _direction(term, reverse)
        field = F(name)
        # NULLs last for the reader, so first when reading backwards.
        nulls: dict[str, bool] = {"nulls_first" if reverse else "nulls_last": True}
        out.append(field.desc(**nulls) if descending else field.asc(**nulls))
    return out


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class CursorPage(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    # Newest first; `?ordering=` (where a list offers it) replaces this.
    ordering: tuple[str, ...] = ("-created_at", "-id")

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any) -> tuple[str, ...]:
        """The list's ordering, with the id last so that every row has its own key."""
        terms = list(self.ordering)
        for backend in getattr(view, "filter_backends", []):
            if issubclass(backend, AllowListOrdering):
                terms = list(backend().get_ordering(request, queryset, view) or terms)
                break
        if not {"id", "pk"} & {t.lstrip("-") for t in terms}:
            terms.append("-id" if terms[0].startswith("-") else "id")
        return tuple(terms)

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        self.request = request
        size = self.get_page_size(request)
        if not size:
            return None
        self.page_size = size
        self.base_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, queryset, view)
        self.key = self._decode(request)
        reverse = self.key is not None and self.key.reverse
        queryset = queryset.order_by(*_expressions(self.ordering, reverse))
        try:
            if self.key is not None:
                queryset = queryset.filter(
                    _after(queryset.model, self.ordering, self.key.values, reverse)
                )
            rows = list(queryset[: self.page_size + 1])
        except (DjangoValidationError, ValueError, TypeError) as exc:
            # A cursor edited by hand: values of the wrong type for their fields.
            raise NotFound(self.invalid_cursor_message) from exc
        more = len(rows) > self.page_size
        page = rows[: self.page_size]
        if reverse:
            page.reverse()
            self.has_previous, self.has_next = more, True
        else:
            self.has_previous, self.has_next = self.key is not None, more
        self.page = page
        self.display_page_controls = self.has_previous or self.has_next
        return page

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        if not self.page:  # read backwards past everything: start again at the top
            return remove_query_param(self.base_url or "", self.cursor_query_param)
        return self._link(Key(reverse=False, values=self._values(self.page[-1])))

    def get_previous_link(self) -> str | None:
        if not self.has_previous or not self.page:
            return None
        return self._link(Key(reverse=True, values=self._values(self.page[0])))

    def _values(self, row: Any) -> tuple[Any, ...]:
        return tuple(_plain(getattr(row, t.lstrip("-"))) for t in self.ordering)

    def _link(self, key: Key) -> str:
        raw = json.dumps({"r": int(key.reverse), "k": list(key.values)}, separators=(",", ":"))
        encoded = urlsafe_b64encode(raw.encode()).decode("ascii").rstrip("=")
        return replace_query_param(self.base_url or "", self.cursor_query_param, encoded)

    def _decode(self, request: Request) -> Key | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            data = json.loads(urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            values = tuple(data["k"])
            key = Key(reverse=bool(data["r"]), values=values)
        except (ValueError, TypeError, KeyError) as exc:
            raise NotFound(self.invalid_cursor_message) from exc
        if len(values) != len(self.ordering) or any(isinstance(v, list | dict) for v in values):
            # Made for another ordering (or by hand).
            raise NotFound(self.invalid_cursor_message)
        return key
