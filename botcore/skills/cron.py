"""Five-field cron expressions ("30 9 * * 1-5"), matched against a wall-clock time in a portal's time zone.

Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12), day of week (0-7, 0 and 7 =
Sunday, or mon…sun). Each takes `*`, a number, a range `a-b`, a list `a,b`, and a step `*/n` or `a-b/n`.
As in classic cron, when both day fields are restricted a day matching either one fires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botcore.errors import SkillConfigError

_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")


UTC = ZoneInfo("UTC")


def find_zone(name: str) -> ZoneInfo | None:
    """The time zone `name` names, or None when it is empty or this host's zone database lacks it."""
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def read_on_clock(moment: str, zone_name: str) -> datetime:
    """An ISO time kept with the name of the zone it was read in, in that zone again (its daylight-saving
    rules, not only the offset it had then); with its offset alone where the name is empty or this host's
    zone database lacks it (kept before the zone was, or a mixed fleet's older database), never another
    zone's wall time."""
    read = datetime.fromisoformat(moment)
    zone = find_zone(zone_name)
    return read.astimezone(zone) if zone is not None else read


def portal_zone(name: str) -> ZoneInfo:
    """The time zone a portal's setting names; UTC when it is empty or unknown."""
    return find_zone(name) or UTC


class CronError(SkillConfigError):
    """A cron expression that cannot be read."""


def _number(text: str, index: int) -> int:
    if index == 4 and text.lower()[:3] in _NAMES:
        return _NAMES[text.lower()[:3]]
    if not re.fullmatch(r"\d{1,2}", text):
        raise CronError(f"{_FIELD_NAMES[index]}: {text!r} is not a number")
    return int(text)


def _field(text: str, index: int) -> frozenset[int]:
    low, high = _BOUNDS[index]
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = _number(step_text, 0) if step_text else 1
        if step < 1:
            raise CronError(f"{_FIELD_NAMES[index]}: a step must be at least 1")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, end = _number(first, index), _number(last, index)
        else:
            start = _number(body, index)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise CronError(f"{_FIELD_NAMES[index]}: {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    if index == 4 and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


@dataclass(frozen=True)
class CronExpression:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool
    text: str

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        parts = text.split()
        if len(parts) != 5:
            raise CronError(f"{text!r}: a cron expression has five fields (minute hour day month weekday)")
        fields = [_field(part, index) for index, part in enumerate(parts)]
        return cls(*fields, days_restricted=parts[2] != "*", weekdays_restricted=parts[4] != "*", text=text)

    def matches(self, local: datetime) -> bool:
        """Whether the minute `local` (a wall-clock time in the schedule's zone) is a firing minute."""
        if local.minute not in self.minutes or local.hour not in self.hours or local.month not in self.months:
            return False
        day_ok = local.day in self.days
        weekday_ok = (local.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day_ok or weekday_ok
        return day_ok and weekday_ok


def daily_cron(time_of_day: str, weekdays: list[int] | tuple[int, ...]) -> str:
    """ "HH:MM" on ISO weekdays (1 = Monday … 7 = Sunday) as a cron expression."""
    hour, minute = (int(piece) for piece in time_of_day.split(":"))
    days = ",".join(str(day % 7) for day in sorted(set(weekdays))) or "*"
    return f"{minute} {hour} * * {days}"
