"""Query filters for the console's own lists, in the one list vocabulary of console.lists."""

from __future__ import annotations

import django_filters

from console.lists import ListFilter
from console.models import ApiToken


class ApiTokenFilter(ListFilter):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")

    class Meta:
        model = ApiToken
        fields = ["scope"]
