"""The ``supportgraph`` command line."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from supportgraph.auth.cli import app as keys_app
from supportgraph.db.cli import app as db_app
from supportgraph.escalation_cli import app as escalation_app
from supportgraph.intents.cli import app as classifier_app
from supportgraph.knowledge.cli import app as kb_app
from supportgraph.settings import get_settings

if TYPE_CHECKING:
    from supportgraph.services import Services

app = typer.Typer(help="supportgraph: a tier-1 customer support agent.", no_args_is_help=True)
app.add_typer(classifier_app, name="classifier")
app.add_typer(kb_app, name="kb")
app.add_typer(escalation_app, name="escalation")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")


def _services() -> Services:
    from supportgraph.services import Services

    return Services(get_settings())


@app.command()
def seed(
    retrain: Annotated[bool, typer.Option(help="retrain the intent model")] = False,
) -> None:
    """Create the demo store, index the help articles and train the intent model (idempotent)."""
    from supportgraph.bootstrap import prepare

    report = prepare(_services(), retrain=retrain)
    typer.echo(
        f"customers={report.customers} orders={report.orders} new={report.seeded} "
        f"articles(+{report.articles.added} ~{report.articles.updated} "
        f"-{report.articles.removed} ={report.articles.unchanged}) model={report.intent_model}"
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="server processes (default: SUPPORTGRAPH_WORKERS)")
    ] = None,
) -> None:
    """Serve the HTTP API (seeding the demo data first when the data directory is empty)."""
    import uvicorn

    from server import create_app
    from supportgraph.bootstrap import prepare
    from supportgraph.knowledge.shared_store import SharedLocalChroma
    from supportgraph.observability import configure_logging, uvicorn_log_config

    if workers is not None:  # the workers read their settings from the environment
        os.environ["SUPPORTGRAPH_WORKERS"] = str(workers)
        get_settings.cache_clear()
    settings = get_settings()
    configure_logging(logging.INFO, settings.log_format)
    log_config = uvicorn_log_config(logging.INFO, settings.log_format)
    host, port = host or settings.host, port or settings.port

    def prepared() -> Services:
        services = _services()
        prepare(services)
        _check_credentials(services, host, port)
        return services

    if settings.workers > 1:  # each process builds its own app from the same settings
        from supportgraph.workers import serve_workers

        def prepared_for_workers() -> None:
            services = prepared()
            if isinstance(services.chroma, SharedLocalChroma):
                services.chroma.refresh()  # what the workers read, as the store now stands

        raise typer.Exit(
            serve_workers(settings.workers, host, port, log_config, prepared_for_workers)
        )
    from supportgraph.draining import DrainingServer

    app = create_app(settings, prepared())
    config = uvicorn.Config(app, host=host, port=port, log_level="info", log_config=log_config)
    DrainingServer(config, app.state.drain, settings.shutdown_grace_s).run()


def _check_credentials(services, host: str, port: int) -> None:  # type: ignore[no-untyped-def]
    """Refuse a network address without credentials; on loopback, make the development key."""
    from supportgraph.auth.development import ensure_development_key, network_refusal

    if refusal := network_refusal(services.engine, services.settings, host):
        typer.echo(refusal, err=True)
        raise typer.Exit(code=2)
    path = ensure_development_key(services.engine, services.settings)
    if path is not None:
        typer.echo(
            f"Local development key (every scope) in {path}. Try:\n"
            f'  curl -s {host}:{port}/v1/support/message -H "Authorization: Bearer '
            f"$(cat {path})\" -H 'content-type: application/json' "
            '-d \'{"customer_id": "cust_456", "message": "Where is my order?"}\'',
            err=True,
        )


@app.command()
def chat(
    customer: Annotated[str, typer.Option(help="customer id to chat as")] = "cust_456",
    ticket: Annotated[str | None, typer.Option(help="continue this ticket")] = None,
) -> None:
    """Talk to the agent in the terminal as a customer (empty line or Ctrl-D to stop)."""
    from server import open_support_service
    from supportgraph.bootstrap import prepare

    services = _services()
    prepare(services)
    with open_support_service(services) as support:
        typer.echo(f"Chatting as {customer}. Empty line to quit.")
        while True:
            try:
                text = typer.prompt("you", default="", show_default=False)
            except (EOFError, typer.Abort):
                break
            if not text.strip():
                break
            result = support.handle_message(ticket_id=ticket, customer_id=customer, message=text)
            ticket = result.ticket_id
            intents = ", ".join(i["intent"] for i in result.state.get("intents", []))
            typer.echo(f"agent [{intents}; {result.latency_ms:.0f} ms]: {result.state['response']}")
            for action in result.actions_available:
                typer.echo(f"  (proposed: {action['action']} {action['arguments']})")
        if ticket:
            typer.echo(f"ticket: {ticket}")


@app.command()
def learn(
    ab: Annotated[
        bool, typer.Option(help="serve a better candidate to an A/B share first")
    ] = False,
) -> None:
    """Train a candidate on human corrections; promote it only if it is not worse."""
    from dataclasses import asdict

    from supportgraph.intents.learning import learn as run_learning

    report = run_learning(_services(), ab_test=ab)
    typer.echo(json.dumps(asdict(report), indent=2))


@app.command()
def bench(
    turns: Annotated[int, typer.Option(help="whole turns to time through the service")] = 100,
    chunks: Annotated[
        int, typer.Option(help="chunks to index for the retrieval benchmark")
    ] = 10_000,
    waiting: Annotated[
        int, typer.Option(help="tickets waiting for a person in the handoff benchmark")
    ] = 1000,
) -> None:
    """Time the tiers, retrieval at scale, a handoff's queue estimate, whole turns; print JSON."""
    from supportgraph.bench import bench_classifier, bench_queue, bench_retrieval, bench_turns
    from supportgraph.bootstrap import prepare

    services = _services()
    prepare(services)
    report = {
        **bench_classifier(services),
        **bench_retrieval(services, chunks=chunks),
        **bench_queue(services, waiting=waiting),
        **bench_turns(services, turns=turns),
    }
    typer.echo(json.dumps(report, indent=2))


@app.command()
def loadtest(
    rates: Annotated[
        str, typer.Option(help="messages per second of each stage, comma-separated")
    ] = "10,20,40",
    seconds: Annotated[float, typer.Option(help="length of each stage", min=1.0)] = 30.0,
    url: Annotated[
        str | None, typer.Option(help="a running server; default: serve the data directory")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="SUPPORTGRAPH_API_KEY",
            help="a key with scope customer:act-as; default: the data directory's development key",
        ),
    ] = None,
    clients: Annotated[
        int,
        typer.Option(
            min=0, help="closed loop: this many clients for one stage of --seconds (0: --rates)"
        ),
    ] = 0,
    new_tickets: Annotated[
        bool, typer.Option(help="every message opens a ticket (else conversations of 1-3)")
    ] = False,
    tier1: Annotated[
        bool,
        typer.Option(help="only order status, refund, reset, help-centre and invoice requests"),
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="server processes of the server it starts (not --url)")
    ] = 1,
) -> None:
    """Send customer messages to the HTTP API; print throughput, latency and loss as JSON."""
    from contextlib import nullcontext

    from supportgraph.auth.development import development_key_path
    from supportgraph.bootstrap import prepare
    from supportgraph.loadtest import (
        LoadPlan,
        Served,
        default_messages,
        resident_mb,
        run_load,
        served,
    )

    try:
        stage_rates = tuple(float(rate) for rate in rates.split(","))
    except ValueError as exc:
        raise typer.BadParameter(f"rates must be numbers: {rates}") from exc
    if any(rate <= 0 for rate in stage_rates):
        raise typer.BadParameter("rates must be positive")
    if url is None:
        prepare(_services())
    elif api_key is None and (path := development_key_path(get_settings())).exists():
        api_key = path.read_text().strip()
    server_args = ["--workers", str(workers)]
    with nullcontext(Served(url, api_key)) if url else served(args=server_args) as server:
        report = run_load(
            server.url,
            LoadPlan(
                rates=stage_rates, stage_seconds=seconds, clients=clients, new_tickets=new_tickets
            ),
            default_messages(tier1=tier1),
            api_key=api_key or server.api_key,
            server_pid=server.pid,
        )
        if server.pid:
            report["server"] = {"ready_s": server.ready_s, **resident_mb(server.pid)}
    typer.echo(json.dumps(report, indent=2))


@app.command(name="eval")
def run_eval(
    suite: Annotated[str | None, typer.Option(help="scenario file name without .jsonl")] = None,
    thresholds: Annotated[Path | None, typer.Option(help="thresholds TOML")] = None,
    report: Annotated[Path | None, typer.Option(help="also write the JSON report here")] = None,
    summary: Annotated[bool, typer.Option(help="print metrics and failing ids only")] = False,
    repeat: Annotated[int, typer.Option(min=1, help="runs per scenario, for pass^k")] = 1,
    llm_url: Annotated[
        str | None,
        typer.Option(help="an OpenAI-compatible endpoint (.../v1) the turns use as their LLM"),
    ] = None,
    llm_model: Annotated[
        str | None, typer.Option(help="the model to ask there; default: SUPPORTGRAPH_LLM_MODEL")
    ] = None,
) -> None:
    """Run the scenario suites through the real graph; exit non-zero when a threshold fails.

    With ``--llm-url`` the report's LLM share, tokens and cost per ticket are what that
    endpoint reported (priced by SUPPORTGRAPH_LLM_*_PRICE_PER_1K_TOKENS_USD).
    """
    from evals.report import markdown_report
    from evals.runner import check_thresholds, run_suites

    result = run_suites(suite=suite, repeat=repeat, llm_url=llm_url, llm_model=llm_model)
    failures = check_thresholds(result, thresholds, require_all=suite is None)
    result["threshold_failures"] = failures
    text = json.dumps(result, indent=2)
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text)
        report.with_suffix(".md").write_text(markdown_report(result))
    if summary:
        brief = {
            "metrics": result["metrics"],
            "failing_scenarios": [failure["scenario"] for failure in result["failures"]],
            **{
                name: value
                for name, value in result.items()
                if name.startswith("escalation_") and name.endswith("_misses")
            },
            "threshold_failures": failures,
        }
        typer.echo(json.dumps(brief, indent=2))
    else:
        typer.echo(text)
    if failures:
        typer.echo(f"eval thresholds breached: {'; '.join(failures)}", err=True)
        raise typer.Exit(code=1)


if __name__ == "__main__":
    app()
