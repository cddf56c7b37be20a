"""The control plane's one settings class, read from OPTISCHEMA_* environment variables.

Outside development it refuses to start with a missing, short or well-known secret.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KNOWN_WEAK_SECRETS = frozenset({"", "secret", "changeme", "change-me", "development", "dev", "optischema"})
MIN_SECRET_LENGTH = 32
DEVELOPMENT_SECRET = "development-only-secret-never-use-in-production!!"  # noqa: S105  # only with OPTISCHEMA_ENV=development


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPTISCHEMA_", extra="ignore")

    env: Literal["production", "development"] = "production"
    metadata_url: str = Field(description="Plain postgresql:// URL of the metadata database")
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: SecretStr = SecretStr("")
    workers: Literal["on", "off", "only"] = "on"
    rate_limit_storage: str = "memory://"
    cors_origins: list[str] = Field(default_factory=list)
    trusted_proxies: list[str] = Field(default_factory=list)

    jwt_issuer: str = "optischema"
    jwt_audience: str = "optischema-api"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    clock_skew_leeway_s: int = 5

    max_body_bytes: int = 16 * 1024 * 1024  # after decompression: a gzip bomb is cut off here too
    statement_stats_retention_days: int = 400
    db_pool_size: int = 10
    login_rate_limit: str = "10/minute"
    expensive_rate_limit: str = "30/minute"

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.env == "development" and not secret:
            self.secret_key = SecretStr(DEVELOPMENT_SECRET)
            return self
        if self.env != "development" and (
            secret.lower() in KNOWN_WEAK_SECRETS or len(secret) < MIN_SECRET_LENGTH
        ):
            raise ValueError(
                f"OPTISCHEMA_SECRET_KEY must be set to a random value of at least {MIN_SECRET_LENGTH} characters "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))'); "
                "set OPTISCHEMA_ENV=development to run with a development secret"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()  # metadata_url comes from the environment
