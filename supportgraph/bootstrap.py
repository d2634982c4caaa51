"""First-run preparation: demo data, the article index and the serving intent model."""

from __future__ import annotations

from dataclasses import dataclass

from supportgraph.demo.seed import seed_demo_store
from supportgraph.intents import registry
from supportgraph.intents.training import train_default_model
from supportgraph.knowledge.cli import ingest_path
from supportgraph.knowledge.index import SyncReport
from supportgraph.services import Services


@dataclass(frozen=True)
class PrepareReport:
    """What preparation did."""

    customers: int
    orders: int
    seeded: bool
    articles: SyncReport
    intent_model: str


def prepare(services: Services, *, retrain: bool = False) -> PrepareReport:
    """Seed the demo store if empty, sync the article index, train the intent model if missing."""
    seeded = seed_demo_store(services.engine)
    report = ingest_path(services.knowledge, services.articles_dir)
    if retrain:
        registry.save_version(
            services.engine,
            train_default_model(services.embedder),
            services.settings.resolved_intent_model_dir,
            status=registry.SERVING,
        )
        services.reload_classifiers()
    if seeded.created:  # a new data directory: keep the encoder's ONNX graph for the servers
        services.embedder.embed_one("a new data directory")
    return PrepareReport(
        customers=seeded.customers,
        orders=seeded.orders,
        seeded=seeded.created,
        articles=report,
        intent_model=services.classifier.model.version if services.classifier.model else "none",
    )
