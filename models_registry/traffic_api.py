"""A deployment's traffic, errors and latency over time: the query and answer of
`GET /api/v1/deployments/<name>/metrics/` (the view is DeploymentViewSet.metrics, which finds
the deployment as its detail does)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework import serializers

MAX_POINTS = 1440  # a day by the minute, two months by the hour
DEFAULT_SPAN = timedelta(hours=1)


class TrafficQuerySerializer(serializers.Serializer[Any]):
    since = serializers.DateTimeField(
        required=False, help_text="Start (inclusive, ISO 8601); default: an hour before until."
    )
    until = serializers.DateTimeField(
        required=False, help_text="End (exclusive, ISO 8601); default: now."
    )
    step = serializers.ChoiceField(
        choices=[60, 300, 3600], default=60, help_text="Seconds per point."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        step = int(attrs["step"])
        until = attrs.get("until") or timezone.now()
        since = attrs.get("since") or until - DEFAULT_SPAN
        # Whole steps, so that each point covers all of its bucket.
        since = since.replace(microsecond=0) - timedelta(seconds=int(since.timestamp()) % step)
        if since >= until:
            raise serializers.ValidationError({"since": ["Must be before until."]})
        points = -(-(until - since).total_seconds() // step)
        if points > MAX_POINTS:
            raise serializers.ValidationError(
                {
                    "step": [
                        f"That range is {int(points)} points at {step} s; at most {MAX_POINTS}: "
                        "narrow the range or take a longer step."
                    ]
                }
            )
        return {"since": since, "until": until, "step": step}


class _TrafficStatsSerializer(serializers.Serializer[Any]):
    requests = serializers.IntegerField()
    errors_4xx = serializers.IntegerField()
    errors_5xx = serializers.IntegerField()
    rows = serializers.IntegerField(help_text="Instances predicted.")
    latency_ms_avg = serializers.FloatField(allow_null=True)
    latency_ms_p50 = serializers.FloatField(
        allow_null=True, help_text="Estimated from a histogram summed across replicas."
    )
    latency_ms_p95 = serializers.FloatField(allow_null=True)
    latency_ms_p99 = serializers.FloatField(allow_null=True)


class _VersionTrafficSerializer(_TrafficStatsSerializer):
    version = serializers.IntegerField(help_text="The model version's id.")
    version_number = serializers.IntegerField()


class TrafficPointSerializer(_VersionTrafficSerializer):
    t = serializers.DateTimeField(help_text="Start of the point's step.")


class _StagesSerializer(serializers.Serializer[Any]):
    parse = serializers.FloatField(allow_null=True)
    queue = serializers.FloatField(allow_null=True, help_text="Waiting for a micro-batch.")
    inference = serializers.FloatField(allow_null=True)
    serialise = serializers.FloatField(allow_null=True)


class _BreakdownSerializer(serializers.Serializer[Any]):
    batches = serializers.IntegerField(help_text="Model calls (micro-batches).")
    batch_rows_histogram = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Model calls by rows: one count per bound of batch_rows_bounds (rows up to "
        "it), and a last one over the top bound.",
    )
    stage_ms_sum = _StagesSerializer(help_text="Answered requests' milliseconds per stage.")
    stage_ms_avg = _StagesSerializer(
        help_text="Mean milliseconds per answered request and stage; null without any."
    )


class _VersionTotalsSerializer(_BreakdownSerializer, _VersionTrafficSerializer):
    pass


class TrafficTotalsSerializer(_BreakdownSerializer, _TrafficStatsSerializer):
    versions = _VersionTotalsSerializer(many=True)


class DeploymentTrafficSerializer(serializers.Serializer[Any]):
    deployment = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    step = serializers.IntegerField()
    batch_rows_bounds = serializers.ListField(
        child=serializers.IntegerField(), help_text="Upper bounds of the batch-size buckets."
    )
    series = TrafficPointSerializer(many=True)
    totals = TrafficTotalsSerializer()
