"""Small helpers every bench shares for the figures it prints."""

from __future__ import annotations

import statistics


def percentile(samples: list[float], q: int) -> float:
    """The q-th percentile (1-99) of `samples`, interpolated between the closest ranks
    (`statistics.quantiles`, inclusive); a single sample is its own percentile."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]
