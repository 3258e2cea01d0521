"""anxin_shared: the one library of Anxin's common mechanisms.

The services import these modules and nothing else from here; a test keeps
`__all__` and the services' imports in step.
"""

__all__ = [
    "app",
    "audit_event",
    "auth",
    "consent",
    "context",
    "db",
    "deps",
    "devtokens",
    "errors",
    "http",
    "keys",
    "masking",
    "messaging",
    "outbox",
    "policy",
    "policy_audit",
    "policy_cases",
    "policy_diff",
    "policy_explain",
    "policy_fast",
    "policy_lint",
    "principal",
    "settings",
    "telemetry",
    "tokens",
]
