"""Small helpers every bench shares for the figures it prints."""

from __future__ import annotations

import os
import statistics
from pathlib import Path


def percentile(samples: list[float], q: int) -> float:
    """The q-th percentile (1-99) of `samples`, interpolated between the closest ranks
    (`statistics.quantiles`, inclusive); a single sample is its own percentile."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process `pid` has used so far (all its threads; Linux
    `/proc/<pid>/stat`); 0.0 when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()  # after the command name: state, ppid, ...
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(pids: dict[str, int]) -> dict[str, float]:
    """`cpu_seconds` of each named process."""
    return {name: cpu_seconds(pid) for name, pid in pids.items()}
