"""Builds the long-lived services once per process, lazily, from the settings."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from functools import cached_property
from typing import Any

from langchain_core.language_models import BaseChatModel
from sqlalchemy import Engine

from policies.config import PolicyConfig, load_policy_config
from policies.gate_model import (
    CALIBRATED_GATE_FILE,
    DEFAULT_GATE_FILE,
    GateModel,
    load_gate_model,
)
from policies.situation_model import (
    CALIBRATED_SITUATIONS_FILE,
    SituationModel,
    load_situation_model,
)
from supportgraph.commerce.backend import CommerceBackend
from supportgraph.commerce.demo import DemoStore
from supportgraph.db.engine import create_schema, make_engine
from supportgraph.demo import ARTICLES_DIR
from supportgraph.intents.classifier import IntentClassifier, LlmTier
from supportgraph.intents.model import IntentModel
from supportgraph.intents.taxonomy import load_taxonomy
from supportgraph.knowledge.embedder import ChromaEmbeddingFunction, Embedder
from supportgraph.knowledge.index import KnowledgeIndex
from supportgraph.knowledge.shared_store import SharedLocalChroma, snapshot_path
from supportgraph.knowledge.spelling import Speller
from supportgraph.llm import make_chat_model, make_llm_guard
from supportgraph.llm_guard import LlmGuard
from supportgraph.settings import Settings
from tools.reconcile import ReconcileReport, reconcile_pending

log = logging.getLogger(__name__)

# `supportgraph learn` promotes a model from its own process; a server reads the registry at
# most this often and loads what it names in a thread of its own (turns keep the loaded models
# meanwhile: a tuned encoder takes seconds to load).
MODEL_CHECK_S = 30.0


def ab_bucket(customer_id: str) -> float:
    """A customer's stable position in [0, 1) for A/B splits."""
    return int(hashlib.sha256(customer_id.encode()).hexdigest()[:8], 16) / 0x100000000


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
        llm: BaseChatModel | None = None,
    ) -> None:
        """Prepare services for these settings; parts given here are used as they are."""
        self.settings = settings
        self._engine = engine
        self._backend = backend
        self._embedder = embedder
        self._llm = llm
        self._lock = threading.Lock()
        self._registry_checked_at = time.monotonic()
        self._registry_guard = threading.Lock()

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
        return self._embedder or Embedder(
            self.settings.embedding_model, onnx_cache=self.settings.data_dir / "models" / "onnx"
        )

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
        if self.settings.workers > 1 or snapshot_path(path).exists():
            return SharedLocalChroma(path, chroma_settings, ChromaEmbeddingFunction(self.embedder))
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)

    @cached_property
    def knowledge(self) -> KnowledgeIndex:
        """The help-article index."""
        return KnowledgeIndex(self.chroma, self.embedder)

    @cached_property
    def gate_model(self) -> GateModel:
        """The escalation gate: this deployment's calibration, else the project's, else priors."""
        for path in (self.settings.data_dir / "escalation" / "gate.json", CALIBRATED_GATE_FILE):
            if path.exists():
                return load_gate_model(path)
        return load_gate_model(DEFAULT_GATE_FILE)

    @cached_property
    def situation_model(self) -> SituationModel | None:
        """The must-escalate situation probes: this deployment's fit, else the project's."""
        for path in (
            self.settings.data_dir / "escalation" / "situations.json",
            CALIBRATED_SITUATIONS_FILE,
        ):
            if path.exists():
                return load_situation_model(path)
        return None

    @cached_property
    def speller(self) -> Speller | None:
        """Typo repair towards the help centre's words, when the model's vocabulary is at hand."""
        from pathlib import Path

        from supportgraph.knowledge.chunking import chunk_directory

        vocab = Path(self.embedder.model_name) / "vocab.txt"
        if not vocab.exists():
            return None
        texts = [chunk.embedding_text for chunk in chunk_directory(Path(self.articles_dir))]
        return Speller.from_files(texts, vocab)

    def model_text(self, text: str) -> str:
        """What the models read: the customer's text with typos repaired."""
        return self.speller.correct(text) if self.speller else text

    @property
    def articles_dir(self) -> Any:
        """Where the help-centre markdown lives."""
        return self.settings.articles_dir or ARTICLES_DIR

    @cached_property
    def classifier(self) -> IntentClassifier:
        """The intent cascade with the serving model (the default one is trained if none is)."""
        from supportgraph.intents import registry

        serving = registry.current(self.engine, registry.SERVING)
        if serving is not None:
            model = registry.load(serving)
        else:
            from supportgraph.intents.training import train_default_model

            log.info("no serving intent model: training the default one")
            model = train_default_model(self.embedder)
            registry.save_version(
                self.engine, model, self.settings.resolved_intent_model_dir, status=registry.SERVING
            )
        return self._cascade(model)

    @cached_property
    def candidate_classifier(self) -> IntentClassifier | None:
        """The candidate model on A/B trial, if one is recorded."""
        from supportgraph.intents import registry

        candidate = registry.current(self.engine, registry.CANDIDATE)
        return self._cascade(registry.load(candidate)) if candidate else None

    def classifier_for(self, customer_id: str) -> tuple[IntentClassifier, str]:
        """The cascade a customer gets, and its A/B variant (stable per customer)."""
        self._follow_registry()
        share = self.settings.ab_candidate_share
        candidate = self.candidate_classifier if share > 0 else None
        if candidate is not None and ab_bucket(customer_id) < share:
            return candidate, "candidate"
        return self.classifier, "serving"

    def reload_classifiers(self) -> None:
        """Forget loaded models so the next use reads the registry again."""
        self.__dict__.pop("classifier", None)
        self.__dict__.pop("candidate_classifier", None)

    def _follow_registry(self) -> None:
        """Load the models the registry names, when another process changed them."""
        if time.monotonic() - self._registry_checked_at < MODEL_CHECK_S:
            return
        with self._registry_guard:  # one check at a time
            if time.monotonic() - self._registry_checked_at < MODEL_CHECK_S:
                return
            self._registry_checked_at = float("inf")  # until this check is done
        threading.Thread(target=self._load_registered, name="intent-registry", daemon=True).start()

    def _load_registered(self) -> None:
        from supportgraph.intents import registry

        try:
            serving = registry.current(self.engine, registry.SERVING)
            candidate = registry.current(self.engine, registry.CANDIDATE)
            loaded = self.__dict__.get("classifier")
            if serving and loaded and _version(loaded) != serving.version:
                self.__dict__["classifier"] = self._ready_cascade(registry.load(serving))
                log.info("now serving intent model %s", serving.version)
            if "candidate_classifier" in self.__dict__ and _version(
                self.__dict__["candidate_classifier"]
            ) != (candidate.version if candidate else None):
                self.__dict__["candidate_classifier"] = (
                    self._ready_cascade(registry.load(candidate)) if candidate else None
                )
                log.info("intent model on trial: %s", candidate.version if candidate else "none")
        except Exception:
            log.exception("could not read the intent model registry")
        finally:
            with self._registry_guard:
                self._registry_checked_at = time.monotonic()

    def _ready_cascade(self, model: IntentModel) -> IntentClassifier:
        """A cascade whose tuned encoder is loaded already, so no turn waits for it."""
        if model.encoder is not None:
            model.encoder.embed_one("warm up")
        return self._cascade(model)

    def _cascade(self, model: IntentModel) -> IntentClassifier:
        return IntentClassifier(
            load_taxonomy(), model, embedder=self.embedder, llm_tier=self._llm_tier()
        )

    def _llm_tier(self) -> LlmTier | None:
        from supportgraph.intents.llm_tier import make_llm_tier

        if self.llm is None:
            return None
        return make_llm_tier(self.llm, load_taxonomy(), guard=self.llm_guard)

    @cached_property
    def llm(self) -> BaseChatModel | None:
        """The configured chat model, or None (the no-LLM product)."""
        return self._llm if self._llm is not None else make_chat_model(self.settings)

    @cached_property
    def llm_guard(self) -> LlmGuard:
        """Deadline, retries and circuit breaker for every LLM call (one breaker per process)."""
        return make_llm_guard(self.settings)

    def with_engine(self, engine: Engine) -> Services:
        """Same models and indexes over another database (isolated eval and test runs)."""
        clone = Services(self.settings, engine=engine, embedder=self.embedder, llm=self._llm)
        for shared in (
            "policy",
            "chroma",
            "knowledge",
            "gate_model",
            "situation_model",
            "speller",
            "classifier",
            "candidate_classifier",
            "llm",
            "llm_guard",
        ):
            if shared in self.__dict__:
                clone.__dict__[shared] = self.__dict__[shared]
        return clone

    def reconcile_actions(self) -> ReconcileReport:
        """Settle actions that a crash left pending (run at start-up, before serving)."""
        return reconcile_pending(self.engine, self.backend)

    def warm_up(self) -> None:
        """Load models and open stores before the first request, not during it.

        Without the sentiment lexicon and the index's caches the first turn after a start took
        640 ms, and at 10 messages a second those behind it waited up to 1.8 s.
        """
        from supportgraph.signals import sentiment

        self.embedder.embed_one("warm up")
        _ = (self.classifier, self.backend, self.speller, self.gate_model, self.situation_model)
        self.knowledge.warm_up()
        sentiment("warm up")


def _version(classifier: IntentClassifier | None) -> str | None:
    return classifier.model.version if classifier and classifier.model else None
