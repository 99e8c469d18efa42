"""Query filters for the console's own lists, in the one list vocabulary of console.lists."""

from __future__ import annotations

import django_filters

from console.lists import ListFilter, owner_filter
from console.models import ApiToken
from models_registry.models import AuditEvent


class ApiTokenFilter(ListFilter):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")

    class Meta:
        model = ApiToken
        fields = ["scope"]


class AuditFilter(ListFilter):
    subject_type = django_filters.ChoiceFilter(
        choices=AuditEvent.SubjectType.choices, help_text="What kind of thing changed."
    )
    subject_id = django_filters.CharFilter(help_text="The id of what changed (with subject_type).")
    actor = django_filters.CharFilter(
        field_name="actor_name", help_text="Who did it: a username, or 'system'."
    )
    # Whose dataset, job or model it is (or was).
    owner = owner_filter("owner__username")

    class Meta:
        model = AuditEvent
        fields = ["action"]
