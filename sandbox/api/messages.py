"""Reference section: messages."""
from __future__ import annotations

routes: list = []
