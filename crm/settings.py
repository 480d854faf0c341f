"""The one place configuration is read: environment variables (and an optional `.env` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob of the CRM. `.env.example` lists each one with its default."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    app_env: Literal["development", "production", "test"] = "development"
    log_level: str = "INFO"

    # Database: unset means "start the embedded cluster" (see crm.db.local_pg).
    database_url: str | None = None
    crm_pg_port: int = 25432
    crm_pg_dir: Path | None = None
    db_pool_size: int = 8
    db_connect_timeout_s: float = 3.0

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = 2

    # Meta
    meta_app_secret: Annotated[list[str], NoDecode] = Field(default_factory=list)
    meta_verify_token: str | None = None
    meta_graph_base_url: str = "https://graph.facebook.com"
    meta_graph_version: str = "v21.0"
    # Used for sends when a channel account has no token of its own (the local sandbox needs none).
    meta_access_token: str | None = None
    webhook_max_body_bytes: int = 2 * 1024 * 1024
    webhook_write_timeout_s: float = 5.0

    # Secrets at rest (channel tokens); Fernet key or any passphrase.
    crm_secret_key: str | None = None

    # Worker
    worker_processes: int = 2
    worker_concurrency: int = 16
    worker_max_attempts: int = 6
    worker_retry_base_s: int = 2

    # Conversations: human handoff, the 24-hour window, closure and CSAT, sending rates.
    business_timezone: str = "America/Panama"
    escalation_transaction_above: float = 5000.0
    escalation_max_bot_failures: int = 3
    conversation_idle_close_hours: float = 24.0
    conversation_resolved_close_minutes: float = 10.0
    human_conversation_idle_close_hours: float = 72.0
    csat_enabled: bool = True
    outbound_rate_per_number: float = 80.0
    outbound_rate_per_recipient: float = 1.0
    outbound_recipient_burst: int = 3
    reply_debounce_ms: int = 1500

    # Local NLU models (trained from ml/data by `crm nlu train`, or on first use)
    nlu_model_dir: Path = PROJECT_ROOT / ".local" / "models" / "nlu"

    # Automation (flows 8, 10-13, 22): events go to n8n when N8N_BASE_URL is set (n8n listens on
    # http://127.0.0.1:5678 by default; each event signed with AUTOMATION_WEBHOOK_SECRET), else straight to the local
    # actions, so an install without n8n works alone. Automated messages respect quiet hours (business time zone)
    # and a daily cap per contact.
    n8n_base_url: str | None = None
    automation_webhook_secret: str | None = None
    automation_max_attempts: int = 8
    automation_quiet_start_hour: int = 21
    automation_quiet_end_hour: int = 8
    automation_daily_cap: int = 2
    automation_closer_wait_hours: int = 6  # flow 11: a hot lead without an order this long gets a closing offer
    automation_closer_max_discount: int = 10  # percent, the most a closing offer may give

    # Content (flows 14-16): the generator proposes the week's posts from the catalog (the LLM chain when a
    # provider is configured, else local templates in Spanish and English); drafts wait for a person's approval
    # unless CONTENT_AUTO_PUBLISH is on. Channels a generated post goes to: instagram needs an image URL.
    content_brand_voice: str = "cercana, clara y entusiasta"
    content_hashtags: Annotated[list[str], NoDecode] = Field(default_factory=list)
    content_language: str = "es"
    content_auto_publish: bool = False
    content_posts_per_week: int = 3
    content_post_hour: int = 18  # local hour (BUSINESS_TIMEZONE) generated posts are scheduled at
    content_channels: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["facebook", "instagram"])
    content_max_publish_attempts: int = 5
    # Instagram allows 100 API-published posts per rolling 24 h (checked live); a page gets this many from us.
    content_facebook_posts_per_day: int = 25

    # Comment auto-responder (flow 17): at most this many replies and hides per account an hour (Meta treats
    # bursts of identical replies as spam); the rest wait for the next slot, none is dropped.
    comment_autoreply_enabled: bool = True
    comment_actions_per_hour: int = 60
    comment_max_attempts: int = 5

    # Inbound media (issue 9): downloaded soon after arrival (Meta's URLs expire) into MEDIA_STORAGE_URL: a folder
    # (`file://` + path, relative to the checkout) or an S3-compatible bucket (`s3://bucket/prefix`, with
    # MEDIA_S3_ENDPOINT_URL for MinIO and the like; credentials from the usual AWS_* variables).
    media_storage_url: str = "file://.local/media"
    media_s3_endpoint_url: str | None = None
    media_max_bytes: int = 25 * 1024 * 1024
    media_allowed_types: Annotated[list[str], NoDecode] = Field(default_factory=lambda: [
        "image/", "audio/", "video/", "application/pdf", "application/msword", "application/vnd.openxmlformats",
        "application/vnd.ms-excel", "application/vnd.ms-powerpoint", "text/plain"])
    media_max_attempts: int = 8
    # Media is fetched only from Meta's CDNs (and the Graph base URL's host, the sandbox in development): a URL in a
    # webhook never makes the worker call anything else (no SSRF into the private network).
    media_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=lambda: [
        "fbcdn.net", "fbsbx.com", "cdninstagram.com", "facebook.com", "instagram.com", "whatsapp.net"])

    # Privacy (issue 9): raw webhook bodies and media are kept this many days, then purged by the worker; marketing
    # messages need no opt-out on record (and, with MARKETING_REQUIRES_OPT_IN, an opt-in).
    raw_event_retention_days: int = 30
    media_retention_days: int = 180
    marketing_requires_opt_in: bool = False
    # The API's public address, for links handed to Meta (the data-deletion status URL). Default: API_HOST:API_PORT.
    public_base_url: str | None = None

    # MLflow: tracking and registry in the `mlflow` database of DATABASE_URL's server unless set; artifacts here.
    mlflow_tracking_uri: str | None = None
    mlflow_artifact_root: Path = PROJECT_ROOT / ".local" / "mlflow" / "artifacts"
    lead_model_refresh_s: float = 30.0  # how often the API looks for a new @champion

    # LLM providers, in fallback order; `local` (the offline models) is always the last resort.
    llm_providers: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["local"])
    llm_mode: Literal["chain", "cascade"] = "cascade"
    llm_cascade_threshold: float = 0.75
    llm_timeout_s: float = 10.0
    llm_max_retries: int = 2
    openai_api_key: str | None = None
    anthropic_api_key: str | None = None
    gemini_api_key: str | None = None
    openai_model: str = "gpt-5-mini"
    anthropic_model: str = "claude-sonnet-4-6"
    gemini_model: str = "gemini-2.5-flash"

    @field_validator("meta_app_secret", "llm_providers", "content_hashtags", "content_channels",
                     "media_allowed_types", "media_allowed_hosts", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def api_base_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
