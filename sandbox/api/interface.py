"""Reference section: interface."""
from __future__ import annotations

routes: list = []
