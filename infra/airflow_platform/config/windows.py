"""RDS backup and maintenance windows: parsing, and whether the two overlap.

A backup window recurs daily (`hh:mm-hh:mm`, UTC); a maintenance window recurs weekly
(`ddd:hh:mm-ddd:hh:mm`, UTC). Either may wrap (past midnight, past Sunday). RDS refuses a
backup window that overlaps the maintenance window on any day of the week, so both are laid
on the week as half-open minute ranges: a window ending at 03:00 does not overlap one
starting at 03:00.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
# RDS's floor for both windows.
MIN_WINDOW_MINUTES = 30
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_TIME = r"([01]\d|2[0-3]):([0-5]\d)"
_DAILY = re.compile(rf"^{_TIME}-{_TIME}$")
_DAY = "(" + "|".join(DAYS) + ")"
_WEEKLY = re.compile(rf"^{_DAY}:{_TIME}-{_DAY}:{_TIME}$", re.IGNORECASE)


@dataclass(frozen=True)
class Window:
    """A recurring window as a half-open range of minutes, `start` counted from the period's
    beginning (midnight for daily windows, Monday 00:00 for weekly ones)."""

    start: int
    """First minute of the window."""
    minutes: int
    """Length in minutes (0 < minutes < the period)."""


def _length(start: int, end: int, period: int) -> int:
    return (end - start) % period


def _check_length(text: str, minutes: int) -> None:
    if minutes < MIN_WINDOW_MINUTES:
        raise ValueError(f"{text} lasts {minutes} minutes; RDS needs at least 30")


def parse_daily_window(text: str) -> Window:
    """`hh:mm-hh:mm` (UTC, may pass midnight), at least 30 minutes long."""
    match = _DAILY.fullmatch(text)
    if not match:
        raise ValueError("expected hh:mm-hh:mm in UTC, such as 02:00-03:00")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    window = Window(start, _length(start, end, MINUTES_PER_DAY))
    _check_length(text, window.minutes)
    return window


def parse_weekly_window(text: str) -> Window:
    """`ddd:hh:mm-ddd:hh:mm` (UTC, days mon..sun, may pass Sunday), at least 30 minutes long."""
    match = _WEEKLY.fullmatch(text)
    if not match:
        raise ValueError("expected ddd:hh:mm-ddd:hh:mm in UTC, such as sun:04:00-sun:05:00")
    d1, h1, m1, d2, h2, m2 = match.groups()
    start = DAYS.index(d1.lower()) * MINUTES_PER_DAY + int(h1) * 60 + int(m1)
    end = DAYS.index(d2.lower()) * MINUTES_PER_DAY + int(h2) * 60 + int(m2)
    window = Window(start, _length(start, end, MINUTES_PER_WEEK))
    _check_length(text, window.minutes)
    return window


def _ranges_overlap(a: Window, b: Window, period: int) -> bool:
    # Two half-open ranges on a circle overlap iff one starts inside the other.
    return (b.start - a.start) % period < a.minutes or (a.start - b.start) % period < b.minutes


def windows_overlap(daily: Window, weekly: Window) -> bool:
    """Whether the daily window, on any day of the week, shares a minute with the weekly one."""
    return any(
        _ranges_overlap(
            Window(day * MINUTES_PER_DAY + daily.start, daily.minutes), weekly, MINUTES_PER_WEEK
        )
        for day in range(len(DAYS))
    )
