"""What the operator API shows of portals, bots, events and the fleet: never a secret, never ciphertext."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from botcore.models import Bot, EventLogEntry
from ops.redaction import redact_payload, redact_quoting
from tenants.models import Portal


# The two camelCase names were the only ones in an otherwise snake_case API: kept beside their snake_case
# names, deprecated in the schema, until the API's next version.
@extend_schema_serializer(deprecate_fields=["bestTokenExpiresAt", "hasPersonalKey"])
class PortalSerializer(serializers.ModelSerializer):
    best_token_expires_at = serializers.DateTimeField(
        source="best_expires_at", read_only=True, allow_null=True
    )
    has_personal_key = serializers.BooleanField(read_only=True)
    bestTokenExpiresAt = serializers.DateTimeField(source="best_expires_at", read_only=True, allow_null=True)
    hasPersonalKey = serializers.BooleanField(source="has_personal_key", read_only=True)

    class Meta:
        model = Portal
        fields = [
            "id",
            "member_id",
            "vibe_portal_id",
            "domain",
            "name",
            "status",
            "installed_at",
            "uninstalled_at",
            "purge_after",
            "session_lost_at",
            "expiry_warned_at",
            "best_token_expires_at",
            "has_personal_key",
            "bestTokenExpiresAt",
            "hasPersonalKey",
        ]
        read_only_fields = fields


class BotSerializer(serializers.ModelSerializer):
    portal_domain = serializers.CharField(source="portal.domain", read_only=True)

    class Meta:
        model = Bot
        fields = [
            "id",
            "portal",
            "portal_domain",
            "code",
            "platform_code",
            "name",
            "vibe_bot_id",
            "status",
            "broken_reason",
            "event_offset",
            "next_poll_at",
            "last_polled_at",
            "last_event_at",
            "consecutive_failures",
            "backoff_until",
            "last_error",
            "provisioned_at",
        ]
        read_only_fields = fields


class EventSerializer(serializers.ModelSerializer):
    # As stored, but for a secret an entry stored before secrets were redacted on arrival keeps in its
    # payload, which an error of then may quote (ops.redaction.redact_quoting).
    error = serializers.SerializerMethodField()

    class Meta:
        model = EventLogEntry
        fields = [
            "id",
            "bot",
            "vibe_event_id",
            "event_type",
            "status",
            "skill",
            "error",
            "attempts",
            "next_attempt_at",
            "occurred_at",
            "received_at",
            "handled_at",
            "duration_ms",
        ]
        read_only_fields = fields

    def get_error(self, entry: EventLogEntry) -> str:
        return redact_quoting(entry.error, entry.payload)


class RedactedJSONField(serializers.JSONField):
    """A payload as stored, but for a secret an entry stored before secrets were redacted on arrival keeps
    (an imbot webhook's auth block, a file link's token: ops.redaction)."""

    def to_representation(self, value):
        return super().to_representation(redact_payload(value))


class EventDetailSerializer(EventSerializer):
    payload = RedactedJSONField(read_only=True)

    class Meta(EventSerializer.Meta):
        fields = [*EventSerializer.Meta.fields, "payload"]
        read_only_fields = fields


class DetailSerializer(serializers.Serializer):
    """DRF's answer for a refusal (401, 403, 404, an action's 409): what is wrong, in words."""

    detail = serializers.CharField()


class ActionResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()


class FigureSerializer(serializers.Serializer):
    # A field named like Field.label: DRF takes declared fields off the class, the stubs cannot know that.
    label = serializers.CharField()  # type: ignore[assignment]
    value = serializers.IntegerField()


class ProcessSerializer(serializers.Serializer):
    kind = serializers.CharField()
    instance = serializers.CharField()
    release = serializers.CharField()
    seconds_since_beat = serializers.FloatField()
    is_alive = serializers.BooleanField()
    is_stopped = serializers.BooleanField()


class FleetSerializer(serializers.Serializer):
    portals = FigureSerializer(many=True)
    bots = FigureSerializer(many=True)
    bots_backing_off = serializers.IntegerField(source="bots_backing_off.value")
    sessions_expiring_24h = serializers.IntegerField(source="sessions_expiring_24h.value")
    backlog = serializers.IntegerField(source="backlog.value")
    oldest_unhandled_seconds = serializers.FloatField(allow_null=True)
    events_last_hour = serializers.IntegerField(source="events_last_hour.value")
    failures_last_hour = serializers.IntegerField(source="failures_last_hour.value")
    p95_handler_ms = serializers.IntegerField(allow_null=True)
    failing_skills = FigureSerializer(many=True)
    failing_portals = FigureSerializer(many=True)
    processes = ProcessSerializer(many=True)
    releases = serializers.ListField(child=serializers.CharField())
