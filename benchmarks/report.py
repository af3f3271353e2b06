"""Scenario results: the printed table and benchmarks/results.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Check:
    """One target of a scenario: what was measured, the limit, and whether it holds."""

    name: str
    measured: Any
    limit: Any
    met: bool

    def as_dict(self) -> dict[str, Any]:
        return {"measured": self.measured, "limit": self.limit, "met": self.met}


@dataclass
class Result:
    scenario: str
    ours_s: float | None
    floor_s: float | None
    target: str
    checks: list[Check] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.ours_s is None or not self.floor_s:
            return None
        return self.ours_s / self.floor_s

    @property
    def met(self) -> bool:
        return all(check.met for check in self.checks)

    @property
    def worst_ratio(self) -> float | None:
        """The worst of the repetitions' ratios (each run of ours against the floor run beside it), shown with
        the median the verdict uses: a median at the limit with a worst far past it is luck, not margin."""
        ours, floor = self.extra.get("runs_ours_s"), self.extra.get("runs_floor_s")
        if not ours or not floor or len(ours) != len(floor) or not all(floor):
            return None
        return max(mine / theirs for mine, theirs in zip(ours, floor, strict=True))

    @property
    def worst_s(self) -> float | None:
        """The slowest repetition of ours (a scenario judged by a time, not a ratio)."""
        runs = self.extra.get("runs_ours_s")
        if runs:
            return float(max(runs))
        samples = self.extra.get("samples_ms")
        return max(samples) / 1000 if samples else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ours_s": _round(self.ours_s),
            "floor_s": _round(self.floor_s),
            "ratio": _round(self.ratio, 3),
            "worst_ratio": _round(self.worst_ratio, 3),
            "worst_s": _round(self.worst_s),
            "target": self.target,
            "met": self.met,
            "checks": {check.name: check.as_dict() for check in self.checks},
            **self.extra,
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _fmt_seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _worst(result: Result) -> str:
    """The worst repetition: its ratio when the scenario has a floor, else its time."""
    if result.worst_ratio is not None:
        return f"{result.worst_ratio:.2f}"
    return _fmt_seconds(result.worst_s) if result.worst_s is not None else "—"


def _fmt_measured(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def table(results: list[Result]) -> str:
    headers = ("scenario", "ours (median)", "floor (median)", "ratio (median)", "worst", "target", "met")
    rows = [
        (
            result.scenario,
            _fmt_seconds(result.ours_s),
            _fmt_seconds(result.floor_s),
            "—" if result.ratio is None else f"{result.ratio:.2f}",
            _worst(result),
            result.target,
            "yes" if result.met else "NO",
        )
        for result in results
    ]
    widths = [max(len(str(row[i])) for row in (headers, *rows)) for i in range(len(headers))]
    line = "+-" + "-+-".join("-" * w for w in widths) + "-+"

    def render(row: tuple[str, ...]) -> str:
        return "| " + " | ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"

    out = [line, render(headers), line, *(render(row) for row in rows), line, "", "Checks:"]
    for result in results:
        for check in result.checks:
            mark = "ok  " if check.met else "MISS"
            out.append(
                f"  {mark} {result.scenario}: {check.name} = {_fmt_measured(check.measured)} (limit {check.limit})"
            )
    return "\n".join(out)


def write_json(results: list[Result], path: Path, meta: dict[str, Any]) -> None:
    """The results of this run over those already in the file: a run of some scenarios (`--only`, `make
    bench-scale`) keeps the others' last verdicts. Each result says when it was measured."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data.pop("_meta", None)
    data |= {result.scenario: result.as_dict() | {"measured": meta["date"]} for result in results}
    data["_meta"] = meta
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
