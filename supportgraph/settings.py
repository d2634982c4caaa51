"""One typed settings object, read from the environment (prefix ``SUPPORTGRAPH_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# HS256 keys shorter than the hash (32 bytes) are guessable offline from one token (RFC 7518).
MIN_SECRET_BYTES = 32


class Settings(BaseSettings):
    """Runtime configuration. Only factories and the server read it; nodes and tools never do."""

    model_config = SettingsConfigDict(env_prefix="SUPPORTGRAPH_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite in the data directory"
    )
    checkpoint_url: str | None = Field(
        default=None,
        description="Conversation checkpoints; default: the database URL's engine "
        "(a SQLite file in the data directory, or the same PostgreSQL)",
    )
    chroma_path: Path | None = Field(default=None, description="default: <data_dir>/chroma")
    chroma_host: str | None = Field(
        default=None, description="Chroma server; overrides chroma_path"
    )
    chroma_port: int = 8000
    embedding_model: str | None = Field(
        default=None, description="sentence-transformers name or path; default: packaged MiniLM"
    )
    intent_model_dir: Path | None = Field(
        default=None, description="trained intent model; default: <data_dir>/models/intent"
    )
    ab_candidate_share: float = Field(
        default=0.0, ge=0.0, le=1.0, description="share of customers served the candidate model"
    )
    llm_model: str | None = None
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = 10.0
    llm_max_retries: int = 1
    llm_waiting_turns: int = Field(
        default=16,
        ge=0,
        description="with an LLM configured, turns a process admits besides its slots: they "
        "wait on the LLM and give their slot to the next",
    )
    llm_turn_deadline_s: float = Field(
        default=15.0,
        gt=0,
        description="all LLM calls of one turn, retries and waits included, end within this; "
        "then the turn is answered without the LLM",
    )
    llm_breaker_failures: int = Field(
        default=5, ge=1, description="failed LLM calls in a row that stop calling the endpoint"
    )
    llm_breaker_cooldown_s: float = Field(
        default=30.0, ge=0, description="how long the endpoint is left alone before a trial call"
    )
    human_cost_per_ticket_usd: float = Field(default=6.0, ge=0)
    ai_cost_per_ticket_usd: float = Field(
        default=0.0, ge=0, description="without an LLM the marginal cost is compute only"
    )
    llm_prompt_price_per_1k_tokens_usd: float = Field(
        default=0.0, ge=0, description="price of 1,000 LLM input tokens, for the AI's cost"
    )
    llm_completion_price_per_1k_tokens_usd: float = Field(
        default=0.0, ge=0, description="price of 1,000 LLM output tokens, for the AI's cost"
    )
    verified_resolution_days: int = Field(
        default=7,
        ge=1,
        description="an AI resolution is verified when the customer does not come back "
        "about the same intent within this many days",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    max_concurrent_turns: int = Field(
        default=1,
        ge=1,
        description="turns a process runs at once; more wait their turn (Python runs one at a "
        "time: more at once only stretch each and add switching; a turn waiting on the LLM "
        "gives its slot to the next)",
    )
    turn_wait_s: float = Field(
        default=10.0,
        gt=0,
        description="longest a message waits for a free turn before it is refused with 503",
    )
    shutdown_grace_s: float = Field(
        default=30.0,
        gt=0,
        description="on SIGTERM, how long requests in flight may take to finish while new "
        "ones get 503, before the server stops",
    )
    articles_dir: Path | None = Field(
        default=None, description="help-centre markdown; default: the packaged demo articles"
    )
    workers: int = Field(
        default=1,
        ge=1,
        description="server processes, sharing the database, the checkpoints and the "
        "knowledge index",
    )
    token_secret: SecretStr | None = Field(
        default=None,
        description="HS256 secret that verifies the signed tokens a company's backend issues "
        "to its customers' browsers and apps (and to staff); unset: tokens are refused",
    )
    token_secret_previous: SecretStr | None = Field(
        default=None,
        description="the secret being rotated out: tokens it signed are still accepted",
    )
    openapi_docs: bool = Field(default=True, description="serve /docs and /openapi.json")
    log_format: Literal["json", "plain"] = Field(
        default="json",
        description="what `supportgraph serve` logs: one JSON object per line, or plain text",
    )
    max_body_bytes: int = Field(
        default=65_536, ge=1024, description="larger request bodies are refused with 413"
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="where rate-limit counters live: memory:// (one process) or a redis:// URL "
        "that several processes share",
    )
    rate_limit_customer_messages: str | None = Field(
        default="60/minute", description="messages one customer may send; unset: no limit"
    )
    rate_limit_key_messages: str | None = Field(
        default="12000/minute", description="messages one key or token may send; unset: no limit"
    )
    rate_limit_customer_actions: str | None = Field(
        default="20/minute", description="action requests for one customer; unset: no limit"
    )
    rate_limit_key_actions: str | None = Field(
        default="3000/minute", description="action requests through one key; unset: no limit"
    )

    @model_validator(mode="after")
    def _llm_needs_model(self) -> Settings:
        if (self.llm_base_url or self.llm_api_key) and not self.llm_model:
            raise ValueError(
                "SUPPORTGRAPH_LLM_MODEL is required when an LLM endpoint or key is set"
            )
        return self

    @field_validator("token_secret", "token_secret_previous")
    @classmethod
    def _long_enough(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"a token secret needs at least {MIN_SECRET_BYTES} bytes")
        return secret

    @field_validator(
        "rate_limit_customer_messages",
        "rate_limit_key_messages",
        "rate_limit_customer_actions",
        "rate_limit_key_actions",
    )
    @classmethod
    def _rate_limit(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit such as '60/minute': {value!r}") from exc
        return value

    @property
    def token_secrets(self) -> list[str]:
        """The secrets that verify tokens, the current one first."""
        return [
            secret.get_secret_value()
            for secret in (self.token_secret, self.token_secret_previous)
            if secret is not None
        ]

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'supportgraph.sqlite'}"

    @property
    def resolved_checkpoint_url(self) -> str:
        """Where LangGraph checkpoints live: PostgreSQL beside the data, or a SQLite file."""
        if self.checkpoint_url:
            return self.checkpoint_url
        if _is_postgres(self.resolved_database_url):
            return self.resolved_database_url
        return f"sqlite:///{self.data_dir / 'checkpoints.sqlite'}"

    @property
    def resolved_chroma_path(self) -> Path:
        """The local Chroma directory."""
        return self.chroma_path or self.data_dir / "chroma"

    @property
    def resolved_intent_model_dir(self) -> Path:
        """Where the serving intent model is stored."""
        return self.intent_model_dir or self.data_dir / "models" / "intent"

    @property
    def llm_enabled(self) -> bool:
        """True when an LLM model is configured."""
        return bool(self.llm_model)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql", "postgres://"))
