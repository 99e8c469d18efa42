"""Cursor pagination for every list: stable under inserts (a new job does not shift the next
page by one, as offsets do) and as cheap on page 100 as on page 1."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class CursorPage(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    # Newest first; `?ordering=` (where a list offers it) replaces this.
    ordering = ("-created_at", "-id")
