"""Reference section: files."""
from __future__ import annotations

routes: list = []
