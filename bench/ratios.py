"""What the benchmarks print for a figure measured over several rounds."""

from __future__ import annotations

import statistics


def median_range(values: list[float], digits: int = 2) -> str:
    """`median (min-max)` of per-round values, or the one value when there is one round."""
    text = f"{statistics.median(values):.{digits}f}"
    if len(values) == 1:
        return text
    return f"{text} ({min(values):.{digits}f}-{max(values):.{digits}f})"
