"""Builds the long-lived services once per process, lazily, from the settings."""

from __future__ import annotations

import logging
import threading
from functools import cached_property
from typing import Any

from sqlalchemy import Engine

from policies.config import PolicyConfig, load_policy_config
from supportgraph.commerce.backend import CommerceBackend
from supportgraph.commerce.demo import DemoStore
from supportgraph.db.engine import create_schema, make_engine
from supportgraph.demo import ARTICLES_DIR
from supportgraph.intents.classifier import IntentClassifier
from supportgraph.intents.model import IntentModel
from supportgraph.intents.taxonomy import load_taxonomy
from supportgraph.knowledge.embedder import Embedder
from supportgraph.knowledge.index import KnowledgeIndex
from supportgraph.settings import Settings

log = logging.getLogger(__name__)


class Services:
    """The database, backend, models and indexes one process shares across requests.

    Nothing is loaded at construction; each part is created on first use.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        backend: CommerceBackend | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        """Prepare services for these settings; parts given here are used as they are."""
        self.settings = settings
        self._engine = engine
        self._backend = backend
        self._embedder = embedder
        self._lock = threading.Lock()

    @cached_property
    def engine(self) -> Engine:
        """The SQL engine, with the schema created."""
        engine = self._engine or make_engine(self.settings.resolved_database_url)
        create_schema(engine)
        return engine

    @cached_property
    def backend(self) -> CommerceBackend:
        """The commerce backend (the demo store unless one was given)."""
        return self._backend or DemoStore(self.engine)

    @cached_property
    def embedder(self) -> Embedder:
        """The sentence-embedding model."""
        return self._embedder or Embedder(self.settings.embedding_model)

    @cached_property
    def policy(self) -> PolicyConfig:
        """The policy configuration."""
        return load_policy_config()

    @cached_property
    def chroma(self) -> Any:
        """A Chroma client: a server when a host is set, else a local persistent store."""
        import chromadb

        chroma_settings = chromadb.Settings(anonymized_telemetry=False)
        if self.settings.chroma_host:
            return chromadb.HttpClient(
                host=self.settings.chroma_host,
                port=self.settings.chroma_port,
                settings=chroma_settings,
            )
        path = self.settings.resolved_chroma_path
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)

    @cached_property
    def knowledge(self) -> KnowledgeIndex:
        """The help-article index."""
        return KnowledgeIndex(self.chroma, self.embedder)

    @property
    def articles_dir(self) -> Any:
        """Where the help-centre markdown lives."""
        return self.settings.articles_dir or ARTICLES_DIR

    @cached_property
    def classifier(self) -> IntentClassifier:
        """The intent cascade with the serving model (trained now if none was saved)."""
        from supportgraph.intents.training import train_default_model

        model_dir = self.settings.resolved_intent_model_dir
        if (model_dir / "meta.json").exists():
            model = IntentModel.load(model_dir)
        else:
            log.info("no intent model at %s: training the default one", model_dir)
            model = train_default_model(self.embedder)
            model.save(model_dir)
        return IntentClassifier(load_taxonomy(), model, embedder=self.embedder)

    def with_engine(self, engine: Engine) -> Services:
        """Same models and indexes over another database (isolated eval and test runs)."""
        clone = Services(self.settings, engine=engine, embedder=self.embedder)
        for shared in ("policy", "chroma", "knowledge", "classifier"):
            if shared in self.__dict__:
                clone.__dict__[shared] = self.__dict__[shared]
        return clone

    def warm_up(self) -> None:
        """Load models and open stores before the first request, not during it."""
        self.embedder.embed_one("warm up")
        _ = (self.classifier, self.knowledge, self.backend)
