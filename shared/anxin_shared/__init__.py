"""anxin_shared: the one library of Anxin's common mechanisms.

The services import these modules and nothing else from here; a test keeps
`__all__` and the services' imports in step.
"""

__all__ = [
    "app",
    "audit_event",
    "auth",
    "context",
    "db",
    "deps",
    "devtokens",
    "errors",
    "http",
    "keys",
    "masking",
    "outbox",
    "policy",
    "policy_cases",
    "principal",
    "settings",
    "telemetry",
    "tokens",
]
