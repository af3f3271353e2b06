"""The benchmark table (benchmarks/report.py, issue 31): the verdict is the median's, and the worst repetition is
shown beside it, as a ratio of each run against the floor run beside it, or as the slowest time."""

from __future__ import annotations

from benchmarks.report import Check, Result, table


def test_the_worst_repetition_is_shown_beside_the_median() -> None:
    runs = Result(
        "plan_x",
        ours_s=1.0,
        floor_s=0.8,
        target="ratio ≤ 1.3",
        checks=[Check("ratio", 1.25, 1.3, True)],
        extra={"runs_ours_s": [1.0, 1.2, 0.9], "runs_floor_s": [0.8, 0.8, 0.9]},
    )
    timed = Result("page_x", ours_s=0.02, floor_s=None, target="p50 ≤ 50 ms", extra={"samples_ms": [12.0, 61.5, 20.0]})
    assert round(runs.worst_ratio or 0, 6) == 1.5 and runs.as_dict()["worst_ratio"] == 1.5
    assert timed.worst_ratio is None and timed.worst_s == 0.0615
    printed = table([runs, timed]).splitlines()
    assert "| ratio (median) | worst |" in printed[1]
    assert "| 1.25 " in printed[3] and "| 1.50 " in printed[3]
    assert "| 62 ms " in printed[4]
    assert runs.met  # the median decides; the worst is shown, not judged


def test_no_repetitions_no_worst() -> None:
    bare = Result("x", ours_s=None, floor_s=None, target="")
    assert bare.worst_ratio is None and bare.worst_s is None and "| — " in table([bare]).splitlines()[3]
