"""The embedding tier: a calibrated linear classifier over the turn's sentence embedding."""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

from supportgraph.db.models import utcnow
from supportgraph.intents.taxonomy import DATA_DIR, UNKNOWN
from supportgraph.knowledge.embedder import Embedder

TRAIN_FILE = DATA_DIR / "utterances.csv"
HOLDOUT_FILE = DATA_DIR / "holdout.csv"
MULTI_FILE = DATA_DIR / "multi_intent.csv"
SUB_INTENT_SHARE = 0.5
# A missed request goes unanswered; an extra intent costs a sentence of the reply (and the
# escalation gate judges it on its own), so the multi-intent fit weighs recall twice.
RECALL_WEIGHT = 2.0
# The out-of-scope recall a scope threshold is fitted for unless told otherwise: nine in ten
# messages that fit no intent get "I don't know" rather than the nearest intent's answer.
DEFAULT_UNKNOWN_RECALL = 0.9


@dataclass
class ModelMeta:
    """What a trained model is and how its thresholds were fitted."""

    version: str
    labels: list[str]
    unknown_threshold: float
    secondary_threshold: float
    trained_at: str
    n_train: int
    metrics: dict[str, float] = field(default_factory=dict)
    temperature: float = 1.0
    encoder: str | None = None  # a fine-tuned encoder's folder inside the model folder
    # Below this scope score (see IntentModel.scope_score) a message is out of scope; -1.0
    # (never) when no out-of-scope rows were held out to fit it on.
    scope_threshold: float = -1.0
    # How much the log-odds of the top calibrated probability add to the centroid similarity in
    # the scope score; chosen by cross-validation on the held-out rows (0: similarity alone).
    scope_confidence_weight: float = 0.0
    # The probability a clause's own intent needs to be added to a multi-clause message's
    # intents; None (never) when no multi-intent rows were held out to fit it on.
    clause_threshold: float | None = None
    # Whether a tuned model's classifier reads the base vector beside its tuned one. The base
    # vector is free (the turn computes it anyway) and keeps what tuning forgets: on the
    # 48-intent bench it added 0.4-0.8 points on validation and 1.6-2.9 on the test file (other
    # voices) over the tuned vector alone, two seeds.
    joins_base: bool = False


@dataclass(frozen=True)
class LabelledText:
    """A text with its intent (or several, for multi-intent data) and optional sub-intent."""

    text: str
    intents: tuple[str, ...]
    sub_intent: str | None = None


def read_labelled_csv(path: Path) -> list[LabelledText]:
    """Rows of ``text,intent[,sub_intent]`` (or ``text,intents`` with ``|`` between intents)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        if "text" not in fields or not {"intent", "intents"} & set(fields):
            raise ValueError(f"{path}: expected columns text,intent (found {', '.join(fields)})")
        column = "intent" if "intent" in fields else "intents"
        return [
            LabelledText(
                row["text"].strip(),
                tuple(label.strip() for label in row[column].split("|")),
                (row.get("sub_intent") or "").strip() or None,
            )
            for row in reader
            if (row.get("text") or "").strip()
        ]


class IntentModel:
    """Logistic regression over unit-length sentence embeddings, with fitted thresholds.

    Which intent a message is comes from the classifier; whether it is any of them comes from
    its similarity to the nearest intent's centroid, a better out-of-scope signal than the top
    probability (a softmax is confident far from all training data). A model trained with a
    fine-tuned encoder carries it (``encoder``) and embeds messages with it; otherwise it reads
    the shared embedding the turn already computed.
    """

    def __init__(
        self,
        classifier: LogisticRegression,
        meta: ModelMeta,
        sub_classifier: LogisticRegression | None = None,
        centroids: np.ndarray | None = None,
    ) -> None:
        """Wrap a fitted classifier, its optional sub-intent classifier, and their metadata."""
        self.classifier = classifier
        self.meta = meta
        self.sub_classifier = sub_classifier
        self.centroids = centroids
        self.encoder: Embedder | None = None

    def features(self, texts: Sequence[str], base: np.ndarray | None) -> np.ndarray | None:
        """The vectors this model classifies, one row per text, from their base vectors.

        A model without its own encoder classifies the base vectors (the turn's shared
        embedding); a tuned one its own encoder's, joined by the base ones when ``joins_base``
        (None when those are missing).
        """
        if self.encoder is None:
            return None if base is None else np.atleast_2d(base)
        tuned = self.encoder.embed(list(texts))
        if not self.meta.joins_base:
            return tuned
        return None if base is None else np.hstack([tuned, np.atleast_2d(base)])

    def message_vector(self, text: str, shared: np.ndarray | None) -> np.ndarray | None:
        """The vector this model classifies for one message (see :meth:`features`)."""
        vectors = self.features([text], shared)
        return None if vectors is None else vectors[0]

    @property
    def version(self) -> str:
        """The model version recorded with each classification."""
        return self.meta.version

    def logits(self, vectors: np.ndarray) -> np.ndarray:
        """Unscaled class scores, one row per vector (two columns for a two-label model)."""
        scores = np.asarray(self.classifier.decision_function(np.atleast_2d(vectors)))
        if scores.ndim == 1:  # two labels: the log-odds of the second one
            scores = np.column_stack([np.zeros_like(scores), scores])
        return scores

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities, columns in ``meta.labels`` order."""
        return softmax(self.logits(vectors) / self.meta.temperature)

    def scope_similarity(self, vectors: np.ndarray | None) -> np.ndarray:
        """Each base-encoder vector's cosine similarity to the nearest intent's centroid.

        Always measured with the base encoder, also for a model with its own tuned encoder:
        tuning pulls every message towards some training intent, and on the 48-intent test file
        that cut the out-of-scope AUROC from 0.976 to 0.925.
        """
        if vectors is None:
            return np.ones(1)
        vectors = np.atleast_2d(vectors)
        if self.centroids is None:
            return np.ones(len(vectors))
        norms = np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-9)
        return np.asarray((vectors / norms) @ self.centroids.T).max(axis=1)

    def scope_score(self, vectors: np.ndarray | None, top_probability: np.ndarray) -> np.ndarray:
        """How much each message looks like one the model knows: the higher, the more in scope.

        The base vector's centroid similarity (:meth:`scope_similarity`), plus
        ``scope_confidence_weight`` times the log-odds of the model's top calibrated
        probability. The two fail on different messages: an out-of-scope message close to a
        known topic still leaves the model unsure between its intents, and an unusual wording
        of a known intent lies far from its centroid but is classified with confidence.
        """
        similarity = self.scope_similarity(vectors)
        weight = self.meta.scope_confidence_weight
        return similarity + weight * log_odds(top_probability) if weight else similarity

    def out_of_scope(self, vector: np.ndarray | None, top_probability: float) -> bool:
        """Whether a message lies too far from every intent the model knows."""
        score = self.scope_score(vector, np.array([top_probability]))
        return bool(score[0] < self.meta.scope_threshold)

    def sub_intent(self, vector: np.ndarray, intent: str) -> str | None:
        """The most likely sub-intent of an intent, when one is likely enough."""
        if self.sub_classifier is None:
            return None
        row = self.sub_classifier.predict_proba(np.atleast_2d(vector))[0]
        prefix = f"{intent}:"
        options = [
            (p, str(label))
            for label, p in zip(self.sub_classifier.classes_, row, strict=True)
            if str(label).startswith(prefix)
        ]
        total = sum(p for p, _ in options)
        if not options or total <= 0:
            return None
        best_p, best = max(options)
        return best.removeprefix(prefix) if best_p / total >= SUB_INTENT_SHARE else None

    def save(self, directory: Path) -> None:
        """Write the model and its metadata to a folder."""
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(
            {
                "classifier": self.classifier,
                "sub_classifier": self.sub_classifier,
                "centroids": self.centroids,
            },
            directory / "classifier.joblib",
        )
        (directory / "meta.json").write_text(json.dumps(asdict(self.meta), indent=2))

    @classmethod
    def load(cls, directory: Path) -> IntentModel:
        """Read a model written by :meth:`save`."""
        meta = ModelMeta(**json.loads((directory / "meta.json").read_text()))
        parts = joblib.load(directory / "classifier.joblib")
        model = cls(parts["classifier"], meta, parts.get("sub_classifier"), parts.get("centroids"))
        if meta.encoder:
            model.encoder = Embedder(str(directory / meta.encoder), onnx_cache=directory)
        return model


def fit_intent_model(
    train_vectors: np.ndarray,
    train_labels: Sequence[str],
    *,
    sub_labels: Sequence[str | None] | None = None,
    holdout: tuple[np.ndarray, Sequence[str]] | None = None,
    unknown_recall: float | None = None,
    base_vectors: tuple[np.ndarray, np.ndarray | None] | None = None,
) -> IntentModel:
    """Fit the classifier, then fit its thresholds on data it was not trained on.

    The scope threshold is the loosest one reaching ``unknown_recall`` out-of-scope recall on the
    held-out rows (see :func:`fit_scope_threshold`).
    ``base_vectors`` (training rows, held-out rows) are the base encoder's embeddings when the
    classifier's vectors come from a tuned encoder; scope is measured on them.
    """
    classifier = LogisticRegression(C=10.0, max_iter=2000)
    classifier.fit(train_vectors, list(train_labels))
    sub_classifier = _fit_sub_classifier(train_vectors, train_labels, sub_labels)
    labels = [str(label) for label in classifier.classes_]
    digest = hashlib.sha256(train_vectors.tobytes()).hexdigest()[:8]
    meta = ModelMeta(
        version=f"intent-{utcnow():%Y%m%d%H%M%S}-{digest}",
        labels=labels,
        unknown_threshold=0.0,
        secondary_threshold=1.0,
        trained_at=utcnow().isoformat(),
        n_train=len(train_labels),
    )
    scope_train, scope_held = base_vectors or (train_vectors, holdout[0] if holdout else None)
    model = IntentModel(
        classifier, meta, sub_classifier, intent_centroids(scope_train, train_labels, labels)
    )
    if holdout is not None and len(holdout[1]):
        meta.temperature, meta.metrics["ece_before"], meta.metrics["ece_after"] = fit_temperature(
            model, *holdout
        )
        if UNKNOWN in holdout[1]:
            fit_scope_threshold(model, *holdout, scope_held, unknown_recall=unknown_recall)
    return model


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large scores."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))


def expected_calibration_error(probs: np.ndarray, truth: np.ndarray, bins: int = 10) -> float:
    """The gap between confidence and accuracy, averaged over confidence bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == truth
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return round(float(error), 4)


def fit_temperature(
    model: IntentModel, vectors: np.ndarray, labels: Sequence[str]
) -> tuple[float, float, float]:
    """The softmax temperature minimizing log-loss on held-out rows of known labels.

    Returns the temperature and the expected calibration error before and after.
    """
    index = {label: i for i, label in enumerate(model.meta.labels)}
    keep = [i for i, label in enumerate(labels) if label in index]
    if not keep:
        return 1.0, 0.0, 0.0
    logits = model.logits(vectors[keep])
    truth = np.array([index[labels[i]] for i in keep])

    def log_loss(temperature: float) -> float:
        probs = softmax(logits / temperature)
        return float(-np.log(probs[np.arange(len(truth)), truth] + 1e-12).mean())

    grid = np.exp(np.linspace(np.log(0.2), np.log(5.0), 61))
    best = float(min(grid, key=log_loss))
    before = expected_calibration_error(softmax(logits), truth)
    after = expected_calibration_error(softmax(logits / best), truth)
    return round(best, 4), before, after


def _fit_sub_classifier(
    vectors: np.ndarray, labels: Sequence[str], sub_labels: Sequence[str | None] | None
) -> LogisticRegression | None:
    if not sub_labels:
        return None
    keep = [i for i, sub in enumerate(sub_labels) if sub]
    targets = [f"{labels[i]}:{sub_labels[i]}" for i in keep]
    if len(set(targets)) < 2:
        return None
    sub_classifier = LogisticRegression(C=10.0, max_iter=2000)
    sub_classifier.fit(vectors[keep], targets)
    return sub_classifier


def intent_centroids(
    vectors: np.ndarray, labels: Sequence[str], order: Sequence[str]
) -> np.ndarray:
    """The unit-length mean vector of each in-scope intent, rows in ``order``."""
    truth = np.asarray(labels)
    means = np.stack([vectors[truth == label].mean(axis=0) for label in order if label != UNKNOWN])
    return np.asarray(means / np.linalg.norm(means, axis=1, keepdims=True).clip(min=1e-9))


def fit_scope_threshold(
    model: IntentModel,
    vectors: np.ndarray,
    labels: Sequence[str],
    base: np.ndarray | None,
    *,
    unknown_recall: float | None = None,
) -> None:
    """Fit the scope score's weight and threshold on held-out rows (into ``model.meta``).

    The threshold is the loosest (the most in-scope messages kept) whose out-of-scope recall on
    the held-out rows reaches ``unknown_recall`` (default ``DEFAULT_UNKNOWN_RECALL``) plus one
    standard error of that recall measured on so many rows: the recall is a requirement on new
    messages, and a threshold fitted to reach it exactly on a hundred rows misses it on new
    ones about half the time. The weight of the model's confidence in the score
    (:meth:`IntentModel.scope_score`) is the one whose threshold, fitted on four fifths of the
    rows, keeps the most in-scope rows right on the fifth left out. ``base`` holds the rows'
    base-encoder vectors (see :meth:`IntentModel.scope_similarity`).
    """
    probs = model.probabilities(vectors)
    predicted = np.array(model.meta.labels)[probs.argmax(axis=1)]
    similarity = model.scope_similarity(base)
    confidence = log_odds(probs.max(axis=1))
    truth = np.array(labels)
    target = DEFAULT_UNKNOWN_RECALL if unknown_recall is None else unknown_recall
    weight = _scope_confidence_weight(similarity, confidence, predicted, truth, target)
    threshold, recall = _loosest_threshold(
        similarity + weight * confidence, predicted, truth, target
    )
    if threshold == -np.inf:  # the model's own "unknown" reaches the recall: no score needed
        weight, threshold = 0.0, -1.0
    model.meta.scope_confidence_weight = weight
    model.meta.scope_threshold = threshold
    model.meta.metrics["holdout_unknown_recall"] = recall


# The confidence's weight is tried at these multiples of the ratio of the two scores' spreads on
# the held-out rows. On CLINC150's validation rows (5-fold), 0.5 kept 0.939 of in-scope rows right
# at 0.933 out-of-scope recall, the similarity alone 0.907 at 0.925.
SCOPE_WEIGHT_STEPS = (0.0, 0.25, 0.5, 1.0, 2.0)
SCOPE_FOLDS = 5


def _scope_confidence_weight(
    similarity: np.ndarray,
    confidence: np.ndarray,
    predicted: np.ndarray,
    truth: np.ndarray,
    target: float,
) -> float:
    inside = truth != UNKNOWN
    if inside.sum() < SCOPE_FOLDS or (~inside).sum() < SCOPE_FOLDS:
        return 0.0
    spread = float(confidence.std())
    unit = float(similarity.std()) / spread if spread > 0 else 0.0
    folds = np.arange(len(truth)) % SCOPE_FOLDS

    def kept_right(weight: float) -> float:
        score = similarity + weight * confidence
        right = []
        for fold in range(SCOPE_FOLDS):
            fit, check = folds != fold, folds == fold
            threshold, _ = _loosest_threshold(score[fit], predicted[fit], truth[fit], target)
            decided = np.where(score[check] < threshold, UNKNOWN, predicted[check])
            held_in = inside[check]
            right.append(float((decided[held_in] == truth[check][held_in]).mean()))
        return float(np.mean(right))

    return max((step * unit for step in SCOPE_WEIGHT_STEPS), key=kept_right)


def _loosest_threshold(
    score: np.ndarray, predicted: np.ndarray, truth: np.ndarray, target: float
) -> tuple[float, float]:
    """The loosest threshold on ``score`` reaching ``target`` recall with its margin; the recall."""
    out_of_scope = truth == UNKNOWN
    required = recall_with_margin(target, int(out_of_scope.sum()))
    seen = np.unique(score)
    # Candidates halfway between neighbouring scores leave a margin on both sides.
    for threshold in np.concatenate([[-np.inf], (seen[:-1] + seen[1:]) / 2, [np.inf]]):
        decided = np.where(score < threshold, UNKNOWN, predicted)
        recall = float((decided[out_of_scope] == UNKNOWN).mean())
        if recall >= required:
            return float(threshold), recall
    raise AssertionError("an infinite threshold rejects every message")


def log_odds(probability: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), kept finite at 0 and 1."""
    p = np.clip(np.asarray(probability, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)))


def recall_with_margin(target: float, n_out_of_scope: int) -> float:
    """The held-out recall to fit for: ``target`` plus one standard error on so many rows."""
    if n_out_of_scope <= 0:
        return target
    return min(1.0, target + math.sqrt(target * (1.0 - target) / n_out_of_scope))


def fit_multi_intent_thresholds(
    model: IntentModel,
    whole: np.ndarray,
    clause_vectors: Sequence[np.ndarray],
    intents: Sequence[tuple[str, ...]],
) -> tuple[float, float | None]:
    """The secondary threshold, then the clause threshold, maximizing intent-set F2 (recall first).

    ``whole`` holds each message's vector and ``clause_vectors`` each message's clause vectors
    (none for a one-clause message). A message's intents are its top one, the runners-up whose
    probability reaches the secondary threshold, and each clause's top intent whose
    probability reaches the clause threshold (None: clauses never add one).
    """
    labels = np.array(model.meta.labels)
    probs = model.probabilities(whole)
    clause_tops = [
        [(str(labels[row.argmax()]), float(row.max())) for row in model.probabilities(vectors)]
        if len(vectors)
        else []
        for vectors in clause_vectors
    ]

    def score(secondary: float, clause: float | None) -> float:
        base = [_message_intents(row, labels, secondary) for row in probs]
        found = [
            (message | {label for label, p in tops if clause is not None and p >= clause})
            - {UNKNOWN}
            for message, tops in zip(base, clause_tops, strict=True)
        ]
        return _f_score(found, intents)

    # The whole message's runners-up first, as if no message were split: they alone decide a
    # one-clause message, so how messages are split never changes how one request is read.
    secondary = max(
        (round(float(s), 4) for s in np.linspace(0.05, 0.6, 23)), key=lambda s: score(s, None)
    )
    # Then the clause threshold: what the clauses add to that reading.
    clause = max(
        [None, *(round(float(c), 4) for c in np.linspace(0.3, 0.95, 27))],
        key=lambda c: score(secondary, c),
    )
    return secondary, clause


def _message_intents(row: np.ndarray, labels: np.ndarray, secondary: float) -> set[str]:
    found = {str(labels[i]) for i in np.argsort(row)[::-1][:3] if row[i] >= secondary}
    found.add(str(labels[int(row.argmax())]))
    found.discard(UNKNOWN)
    return found


def _f_score(found: Sequence[set[str]], intents: Sequence[tuple[str, ...]]) -> float:
    """F-beta of the intents found, with recall weighted ``RECALL_WEIGHT`` times precision."""
    tp = fp = fn = 0
    for predicted, gold in zip(found, intents, strict=True):
        tp += len(predicted & set(gold))
        fp += len(predicted - set(gold))
        fn += len(set(gold) - predicted)
    beta2 = RECALL_WEIGHT**2
    return (1 + beta2) * tp / max(1, (1 + beta2) * tp + beta2 * fn + fp)
