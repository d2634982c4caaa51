"""The eval report as markdown, for people and CI logs."""

from __future__ import annotations

from typing import Any


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown_report(report: dict[str, Any]) -> str:
    """Metrics as a table, then the breached thresholds and the failing scenarios."""
    lines = ["# supportgraph eval", "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in report["metrics"].items()]
    breaches = report.get("threshold_failures") or []
    lines += ["", "## Thresholds", ""]
    lines += [f"- breached: {item}" for item in breaches] or ["- all met"]
    lines += ["", "## Failing scenarios", ""]
    for failure in report.get("failures", []):
        problems = [f for turn in failure["turns"] for f in turn["failures"]]
        problems += failure.get("final_state", [])
        lines.append(f"- `{failure['scenario']}`: {'; '.join(problems)}")
    return "\n".join(lines) + "\n"
