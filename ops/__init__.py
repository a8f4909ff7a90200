"""Operations: health and readiness, Prometheus metrics, JSON logs, heartbeats, the fleet dashboard and
the operator API."""
