"""Reference section: commands."""
from __future__ import annotations

routes: list = []
