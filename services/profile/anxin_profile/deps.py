"""Profile-specific dependencies: the injectable clock and the typed settings."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from anxin_profile.clock import Clock
from anxin_profile.settings import ProfileSettings


async def get_clock(request: Request) -> Clock:
    """The app's clock (tests inject one that they can move)."""
    return cast(Clock, request.app.state.clock)


async def get_settings(request: Request) -> ProfileSettings:
    """The profile settings of the app serving this request."""
    return cast(ProfileSettings, request.app.state.runtime.settings)


ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[ProfileSettings, Depends(get_settings)]
