"""SMS-gateway adapters: they live in `anxin_shared.messaging` (profile's outreach sends too).

Re-exported here so identity's one-time-code code keeps its imports.
"""

from __future__ import annotations

from anxin_shared.messaging import (
    DevSinkSms,
    HttpSmsGateway,
    NoSmsGateway,
    SmsGateway,
    read_sink,
)

__all__ = ["DevSinkSms", "HttpSmsGateway", "NoSmsGateway", "SmsGateway", "read_sink"]
