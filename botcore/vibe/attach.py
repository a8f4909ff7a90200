"""Attach: builds a message's rich attachment (the ATTACH blocks of CONTRACT part B §7.3.2).

    Attach(color_token="primary").message("[b]Report[/b]").delimiter().grid(
        GridItem("Done", "12"), GridItem("Left", "3")).link("https://example.com", name="Details")

The wire form is the full object `{ID?, COLOR_TOKEN?, COLOR?, BLOCKS: [...]}` with one single-key object
per block: USER, LINK, MESSAGE (BB codes allowed), DELIMITER, GRID, IMAGE, FILE. URLs must be absolute
http(s) or portal-relative; the platform refuses a serialized attach over 60 000 characters
(ATTACH_OVERSIZE), which `to_wire()` checks first so the mistake is caught where it is made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

ColorToken = Literal["primary", "secondary", "alert", "base"]
GridDisplay = Literal["BLOCK", "LINE", "ROW"]
MAX_ATTACH_CHARS = 60_000


class AttachError(ValueError):
    """An attachment the platform would refuse: a bad URL, an empty attach, or one too large."""


def _check_url(url: str, what: str) -> str:
    if not (url.startswith(("http://", "https://", "/"))):
        raise AttachError(f"{what} must be an absolute http(s) URL or portal-relative /…, got {url!r}")
    return url


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


@dataclass(frozen=True)
class GridItem:
    """One cell of a GRID block: a label and its value."""

    name: str
    value: str
    display: GridDisplay = "LINE"
    width: int | None = None
    color: str | None = None
    link: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return _clean(
            {
                "NAME": self.name,
                "VALUE": self.value,
                "DISPLAY": self.display,
                "WIDTH": self.width,
                "COLOR": self.color,
                "LINK": _check_url(self.link, "a grid link") if self.link else None,
            }
        )


class Attach:
    """An ordered list of attachment blocks with an optional accent color."""

    def __init__(
        self, *, color_token: ColorToken | None = None, color: str | None = None, id: int | None = None
    ):
        self._header = _clean({"ID": id, "COLOR_TOKEN": color_token, "COLOR": color})
        self._blocks: list[dict[str, Any]] = []

    def message(self, text: str) -> Attach:
        """A text block; BB codes render, so escape user text with bbcode.escape()."""
        self._blocks.append({"MESSAGE": text})
        return self

    def link(
        self,
        url: str,
        *,
        name: str | None = None,
        desc: str | None = None,
        preview: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> Attach:
        fields = {
            "LINK": _check_url(url, "a link"),
            "NAME": name,
            "DESC": desc,
            "PREVIEW": _check_url(preview, "a link preview") if preview else None,
            "WIDTH": width,
            "HEIGHT": height,
        }
        self._blocks.append({"LINK": _clean(fields)})
        return self

    def user(self, name: str, *, avatar: str | None = None, link: str | None = None) -> Attach:
        fields = {
            "NAME": name,
            "AVATAR": _check_url(avatar, "an avatar") if avatar else None,
            "LINK": _check_url(link, "a user link") if link else None,
        }
        self._blocks.append({"USER": _clean(fields)})
        return self

    def delimiter(self, *, size: int = 200, color: str = "#c6c6c6") -> Attach:
        self._blocks.append({"DELIMITER": {"SIZE": size, "COLOR": color}})
        return self

    def grid(self, *items: GridItem) -> Attach:
        if not items:
            raise AttachError("a grid needs at least one item")
        self._blocks.append({"GRID": [item.to_wire() for item in items]})
        return self

    def image(
        self,
        url: str,
        *,
        name: str | None = None,
        preview: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> Attach:
        fields = {
            "LINK": _check_url(url, "an image"),
            "NAME": name,
            "PREVIEW": _check_url(preview, "an image preview") if preview else None,
            "WIDTH": width,
            "HEIGHT": height,
        }
        self._blocks.append({"IMAGE": [_clean(fields)]})
        return self

    def file(self, url: str, *, name: str | None = None, size: int | None = None) -> Attach:
        fields = {"LINK": _check_url(url, "a file"), "NAME": name, "SIZE": size}
        self._blocks.append({"FILE": [_clean(fields)]})
        return self

    def to_wire(self) -> dict[str, Any]:
        """The attach as a JSON-ready object; raises AttachError when empty or over 60 000 characters."""
        if not self._blocks:
            raise AttachError("an attach needs at least one block")
        wire = {**self._header, "BLOCKS": [dict(block) for block in self._blocks]}
        size = len(json.dumps(wire, ensure_ascii=False))
        if size > MAX_ATTACH_CHARS:
            raise AttachError(
                f"the attach serializes to {size} characters; the platform allows {MAX_ATTACH_CHARS}"
            )
        return wire

    def __len__(self) -> int:
        return len(self._blocks)

    def __repr__(self) -> str:
        return f"Attach({[next(iter(block)) for block in self._blocks]!r})"
