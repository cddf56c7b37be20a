"""SQLAlchemy models of the metadata database, one module per table.

Every tenant-owned table has `tenant_id` leading its primary key and its indexes, so the schema can
later be distributed by tenant. Relationships are `lazy="raise"`: every load is explicit.
"""

from control_plane.models.agent_job import AgentJob
from control_plane.models.analysed_statement import AnalysedStatement
from control_plane.models.analysis_run import AnalysisRun, AnalysisWatch
from control_plane.models.analysis_suggestion import AnalysisSuggestion
from control_plane.models.audit_event import AuditEvent
from control_plane.models.base import Base
from control_plane.models.database_schema import DatabaseSchema
from control_plane.models.live_ticket import LiveTicket
from control_plane.models.llm_usage import LLMAnswer, LLMTokenUsage, TenantLLMSettings
from control_plane.models.login_email import LoginEmail
from control_plane.models.monitored_database import AgentToken, MonitoredDatabase
from control_plane.models.plan import Plan
from control_plane.models.recommendation import Recommendation
from control_plane.models.refresh_token import RefreshToken
from control_plane.models.signing_key import SigningKey
from control_plane.models.snapshot import Snapshot
from control_plane.models.snapshot_inbox import SnapshotInboxEntry
from control_plane.models.statement import Statement, StatementStat
from control_plane.models.statement_rollup import StatementDailyFold, StatementDailyRollup, StatementRollup
from control_plane.models.statement_running_total import StatementRunningTotal, StatementRunningTotalState
from control_plane.models.tenant import Tenant
from control_plane.models.user import User
from control_plane.models.webhook import Webhook, WebhookDelivery

__all__ = [
    "AgentJob",
    "AgentToken",
    "AnalysedStatement",
    "AnalysisRun",
    "AnalysisSuggestion",
    "AnalysisWatch",
    "AuditEvent",
    "Base",
    "DatabaseSchema",
    "LLMAnswer",
    "LLMTokenUsage",
    "LiveTicket",
    "LoginEmail",
    "MonitoredDatabase",
    "Plan",
    "Recommendation",
    "RefreshToken",
    "SigningKey",
    "Snapshot",
    "SnapshotInboxEntry",
    "Statement",
    "StatementDailyFold",
    "StatementDailyRollup",
    "StatementRollup",
    "StatementRunningTotal",
    "StatementRunningTotalState",
    "StatementStat",
    "Tenant",
    "TenantLLMSettings",
    "User",
    "Webhook",
    "WebhookDelivery",
]
