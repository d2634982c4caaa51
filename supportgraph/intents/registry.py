"""Which intent model serves, which is a candidate: versions recorded in the database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from supportgraph.db.engine import session_scope
from supportgraph.db.models import IntentModelVersion, utcnow
from supportgraph.intents.model import IntentModel

SERVING = "serving"
CANDIDATE = "candidate"
RETIRED = "retired"
REJECTED = "rejected"


def save_version(
    engine: Engine,
    model: IntentModel,
    root: Path,
    *,
    status: str,
    parent: str | None = None,
    metrics: dict[str, float] | None = None,
    n_feedback: int = 0,
) -> IntentModelVersion:
    """Write a model under ``root/<version>`` and record it; a new serving model retires the old."""
    path = root / model.version
    model.save(path)
    with session_scope(engine) as session:
        if status in (SERVING, CANDIDATE):
            for row in session.exec(
                select(IntentModelVersion).where(IntentModelVersion.status == status)
            ).all():
                row.status = RETIRED if status == SERVING else REJECTED
                session.add(row)
        row = IntentModelVersion(
            version=model.version,
            path=str(path),
            status=status,
            parent_version=parent,
            metrics=metrics or {},
            n_feedback=n_feedback,
            promoted_at=utcnow() if status == SERVING else None,
        )
        session.add(row)
    return row


def current(engine: Engine, status: str) -> IntentModelVersion | None:
    """The newest version with a status (the serving model, or the candidate on trial)."""
    with Session(engine) as session:
        return session.exec(
            select(IntentModelVersion)
            .where(IntentModelVersion.status == status)
            .order_by(col(IntentModelVersion.created_at).desc())
        ).first()


def load(row: IntentModelVersion) -> IntentModel:
    """The model a version row points at."""
    return IntentModel.load(Path(row.path))
