"""Placeholder; see the sandbox issue."""
from __future__ import annotations

routes: list = []
