"""``supportgraph kb``: ingest help content and search it, for operators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from supportgraph.settings import get_settings

app = typer.Typer(help="Ingest and search the knowledge base.", no_args_is_help=True)


def _services() -> Any:
    from supportgraph.services import Services

    return Services(get_settings())


def ingest_path(knowledge: Any, path: Path, *, show_progress: bool = False) -> Any:
    """Ingest the markdown, HTML and text files at a path; files gone from it leave the index."""
    from tqdm import tqdm

    from supportgraph.knowledge.chunking import chunk_file, content_files

    root = str(path.resolve())
    chunks = [chunk for file in content_files(path) for chunk in chunk_file(file)]

    def in_scope(meta: dict[str, Any]) -> bool:
        source = str(meta.get("source", ""))
        return source == root or source.startswith(root.rstrip("/") + "/")

    with tqdm(total=len(chunks), desc="embedding", unit="chunk", disable=not show_progress) as bar:
        return knowledge.ingest(chunks, scope=in_scope, progress=bar.update)


@app.command()
def ingest(path: Annotated[Path, typer.Argument(exists=True, help="a file or a folder")]) -> None:
    """Index markdown, HTML and text files; only what changed is re-embedded."""
    report = ingest_path(_services().knowledge, path, show_progress=True)
    typer.echo(
        f"added={report.added} updated={report.updated} removed={report.removed} "
        f"unchanged={report.unchanged}"
    )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="what a customer might ask")],
    k: Annotated[int, typer.Option(help="how many chunks")] = 5,
) -> None:
    """Print the ranked chunks for a query with their scores."""
    services = _services()
    vector = services.embedder.embed_one(query)
    for rank, hit in enumerate(
        services.knowledge.search(vector, query=query, k=k, kinds=("article", "resolution")), 1
    ):
        preview = " ".join(hit.text.split())[:160]
        scores = f"score={hit.score:.3f} (dense={hit.dense:.3f} bm25={hit.lexical:.2f})"
        typer.echo(f"{rank}. {hit.id}  {scores}")
        typer.echo(f"   {hit.title}: {hit.heading}\n   {preview}")


@app.command("calibrate-answerability")
def calibrate_answerability(
    data: Annotated[Path, typer.Option(exists=True, help="labelled questions (JSON lines)")] = Path(
        "evals/knowledge/answerability.jsonl"
    ),
    abstain: Annotated[
        float, typer.Option(min=0.5, max=1.0, help="abstention wanted on unanswerable questions")
    ] = 0.92,
    out: Annotated[Path | None, typer.Option(help="default: the packaged model")] = None,
) -> None:
    """Fit when an answer may be given: the best passage must answer the question asked."""
    import json

    from supportgraph.knowledge.answerability import MODEL_FILE
    from supportgraph.knowledge.answerability_fit import fit

    model, report = fit(_services(), data, abstain=abstain)
    target = out or MODEL_FILE
    target.write_text(json.dumps(model.to_json(), indent=1) + "\n")
    typer.echo(json.dumps(report, indent=2))
    typer.echo(f"written to {target}")
