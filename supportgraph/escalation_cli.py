"""``supportgraph escalation``: fit the gate's weights and threshold from labelled data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from supportgraph.settings import get_settings

app = typer.Typer(help="Calibrate the escalation gate.", no_args_is_help=True)


@app.command()
def calibrate(
    data: Annotated[Path, typer.Option(help="labelled conversations (JSON lines)")],
    target_missed: Annotated[
        float | None, typer.Option(help="fit for at most this missed-escalation rate")
    ] = None,
    max_unnecessary: Annotated[
        float, typer.Option(help="else: at most this unnecessary-escalation rate")
    ] = 0.12,
    plot: Annotated[Path | None, typer.Option(help="also write the trade-off curve as PNG")] = None,
    out: Annotated[
        Path | None, typer.Option(help="where to write; default <data_dir>/escalation/gate.json")
    ] = None,
) -> None:
    """Replay the conversations, fit the soft signals' weights, choose the threshold, save."""
    from evals.escalation_eval import load_conversations, measure
    from evals.runner import eval_workspace
    from policies.gate_model import DEFAULT_GATE_FILE, load_gate_model
    from supportgraph.calibration import fit_gate, plot_curve
    from supportgraph.services import Services

    settings = get_settings()
    names = load_gate_model(DEFAULT_GATE_FILE).signals
    with eval_workspace(Services(settings)) as workspace:
        turns = measure(workspace, load_conversations(data), measure_only=True)
    soft = [turn for turn in turns if turn.hard_rule is None]
    model, curve = fit_gate(
        [t.signals for t in soft],
        [t.escalate for t in soft],
        names=names,
        target_missed=target_missed,
        max_unnecessary=max_unnecessary,
    )
    out = out or settings.data_dir / "escalation" / "gate.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(model.to_json())
    if plot:
        plot_curve(curve, model.threshold, plot)
    step = max(1, len(curve) // 12)
    typer.echo("threshold  missed  unnecessary  automated")
    for point in curve[::step]:
        typer.echo(
            f"{point.threshold:9.3f}  {point.missed_rate:6.3f}  {point.unnecessary_rate:11.3f}"
            f"  {point.automation:9.3f}"
        )
    hard_must = sum(1 for t in turns if t.must and t.hard_rule)
    uncaught = sorted({t.conversation for t in turns if t.must and not t.hard_rule})
    summary = {
        "written": str(out),
        "threshold": model.threshold,
        "metrics": model.metrics,
        "hard_rule_turns": len(turns) - len(soft),
        "must_turns_caught_by_hard_rules": f"{hard_must}/{sum(t.must for t in turns)}",
        "must_conversations_left_to_the_score": uncaught,
    }
    typer.echo(json.dumps(summary, indent=2))


@app.command()
def score(
    data: Annotated[Path, typer.Option(help="labelled conversations (JSON lines)")],
    all_must: Annotated[
        bool, typer.Option(help="every turn marked escalate is a must (a must-escalate file)")
    ] = False,
) -> None:
    """Replay labelled conversations through the gate as the eval does and print its figures."""
    from evals.escalation_eval import escalation_metrics, load_conversations, measure, must_misses
    from evals.runner import eval_workspace

    conversations = load_conversations(data, all_must=all_must)
    with eval_workspace() as workspace:
        turns = measure(workspace, conversations, measure_only=False)
    report = {
        "metrics": escalation_metrics(turns),
        "missed_must": must_misses(turns, conversations),
    }
    typer.echo(json.dumps(report, indent=2))


@app.command(name="fit-situations")
def fit_situations_command(
    positives: Annotated[
        Path | None, typer.Option(help="must-escalate conversations tagged with their situation")
    ] = None,
    negatives: Annotated[
        list[Path] | None,
        typer.Option(help="labelled conversations whose calm turns are negatives (repeatable)"),
    ] = None,
    max_false_rate: Annotated[
        float, typer.Option(help="share of the negatives each situation may flag")
    ] = 0.01,
    out: Annotated[Path | None, typer.Option(help="default: the project's situations file")] = None,
) -> None:
    """Fit the must-escalate situation probes on the turn embedding the classifier computes."""
    from evals.escalation_eval import situation_fit_rows
    from policies.situation_model import CALIBRATED_SITUATIONS_FILE
    from supportgraph.services import Services
    from supportgraph.situation_fit import fit_situations

    rows = situation_fit_rows(positives, negatives)
    services = Services(get_settings())
    texts = [services.model_text(row.text) for row in rows]
    model = fit_situations(
        rows,
        services.embedder.embed(texts),
        embedding_model=Path(services.embedder.model_name).name,
        max_false_rate=max_false_rate,
        texts=texts,
    )
    out = out or CALIBRATED_SITUATIONS_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(model.to_json() + "\n")
    typer.echo(json.dumps({"written": str(out), **model.metrics}, indent=2))
