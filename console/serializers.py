"""The console's base for serializers of a model."""

from __future__ import annotations

import copy
from typing import Any, ClassVar, TypeVar

from django.db.models import Model
from rest_framework import serializers
from rest_framework.fields import Field

_M = TypeVar("_M", bound=Model)


# DRF's model serializer, with the fields it derives from the model derived once per class.
#
# DRF derives each field of a model serializer from the model's field on every instance: 0.8 ms
# of the 1.3 ms a job submission's answer took, and about a tenth of the web's CPU for the
# submission (docs/benchmarks.md, where a submission's time goes). What it derives depends on
# the class alone (its Meta and the model), so the first instance keeps the fields as the
# class's pattern, and every instance gets copies, which bind to it as new ones would. Fields
# with parts of their own (a nested serializer, a list's child, a many-valued relation) and the
# fields a class declares are deep-copied for each instance, as DRF does, so no instance shares
# anything it could change. (A comment, not a docstring: the OpenAPI schema would give it to
# every serializer as its description.)
class ModelSerializer(serializers.ModelSerializer[_M]):
    # (field names in order, the unbound pattern of each derived field); of this class alone.
    _pattern: ClassVar[tuple[list[str], dict[str, Field]] | None] = None

    def get_fields(self) -> dict[str, Field]:
        cls = type(self)
        pattern = cls.__dict__.get("_pattern")
        if pattern is None:
            fields = super().get_fields()
            derived = {n: f for n, f in fields.items() if n not in self._declared_fields}
            # One assignment: a thread racing this one sees no pattern or a whole one.
            cls._pattern = pattern = (list(fields), derived)
        order, derived = pattern
        declared = copy.deepcopy(self._declared_fields)
        return {
            name: declared[name] if name in declared else _copy(derived[name]) for name in order
        }


def _copy(field: Field) -> Field:
    """A field to bind to one serializer: shallow where it holds nothing it could share."""
    if isinstance(field, serializers.BaseSerializer) or _has_parts(field):
        return copy.deepcopy(field)
    return copy.copy(field)


def _has_parts(field: Any) -> bool:
    return hasattr(field, "child") or hasattr(field, "child_relation")
