"""RDS backup and maintenance windows: parsing, and the overlap rule RDS enforces."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_platform.config.windows import (
    DAYS,
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    Window,
    parse_daily_window,
    parse_weekly_window,
    windows_overlap,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("02:00-03:00", Window(120, 60)),
        ("23:30-00:30", Window(23 * 60 + 30, 60)),  # past midnight
        ("00:00-23:59", Window(0, MINUTES_PER_DAY - 1)),
    ],
)
def test_daily_window_parses_when_well_formed(text, expected):
    assert parse_daily_window(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2:00-3:00", "hh:mm-hh:mm"),
        ("24:00-01:00", "hh:mm-hh:mm"),
        ("02:60-03:00", "hh:mm-hh:mm"),
        ("02:00-02:29", "at least 30"),
        ("02:00-02:00", "at least 30"),
    ],
)
def test_daily_window_is_refused_when_malformed_or_short(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_daily_window(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon:00:00-mon:00:30", Window(0, 30)),
        ("Sun:04:00-Sun:05:00", Window(6 * MINUTES_PER_DAY + 240, 60)),
        ("sun:23:00-mon:01:00", Window(6 * MINUTES_PER_DAY + 23 * 60, 120)),  # past Sunday
    ],
)
def test_weekly_window_parses_when_well_formed(text, expected):
    assert parse_weekly_window(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("sunday:04:00-sunday:05:00", "ddd:hh:mm-ddd:hh:mm"),
        ("04:00-05:00", "ddd:hh:mm-ddd:hh:mm"),
        ("sun:04:00-sun:04:10", "at least 30"),
    ],
)
def test_weekly_window_is_refused_when_malformed_or_short(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_weekly_window(text)


@pytest.mark.parametrize(
    ("backup", "maintenance", "overlap"),
    [
        ("02:00-03:00", "sun:04:00-sun:05:00", False),
        ("02:00-03:00", "wed:02:30-wed:03:30", True),
        ("03:00-06:00", "mon:00:00-mon:03:00", False),  # touching is not overlapping
        ("23:30-00:30", "tue:00:00-tue:00:30", True),  # backup past midnight
        ("01:00-02:00", "sun:23:00-mon:01:30", True),  # maintenance past Sunday
        ("10:00-11:00", "mon:11:00-tue:10:00", False),  # the whole gap between two backups
    ],
)
def test_windows_overlap_when_they_share_a_minute_on_any_day(backup, maintenance, overlap):
    assert windows_overlap(parse_daily_window(backup), parse_weekly_window(maintenance)) is overlap


def _minutes(window: Window, period: int) -> set[int]:
    return {(window.start + offset) % period for offset in range(window.minutes)}


@given(
    daily_start=st.integers(0, MINUTES_PER_DAY - 1),
    daily_minutes=st.integers(30, MINUTES_PER_DAY - 1),
    weekly_start=st.integers(0, MINUTES_PER_WEEK - 1),
    weekly_minutes=st.integers(30, MINUTES_PER_WEEK - 1),
)
def test_windows_overlap_agrees_with_counting_shared_minutes(
    daily_start, daily_minutes, weekly_start, weekly_minutes
):
    daily = Window(daily_start, daily_minutes)
    weekly = Window(weekly_start, weekly_minutes)
    every_day = set().union(
        *(
            _minutes(Window(day * MINUTES_PER_DAY + daily_start, daily_minutes), MINUTES_PER_WEEK)
            for day in range(len(DAYS))
        )
    )
    shared = every_day & _minutes(weekly, MINUTES_PER_WEEK)
    assert windows_overlap(daily, weekly) is bool(shared)


@given(
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    length=st.integers(30, MINUTES_PER_DAY - 1),
)
def test_daily_window_round_trips_through_its_text(hour, minute, length):
    start = hour * 60 + minute
    end = (start + length) % MINUTES_PER_DAY
    text = f"{hour:02d}:{minute:02d}-{end // 60:02d}:{end % 60:02d}"
    assert parse_daily_window(text) == Window(start, length)
