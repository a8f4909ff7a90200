"""Reference section: events."""
from __future__ import annotations

routes: list = []
