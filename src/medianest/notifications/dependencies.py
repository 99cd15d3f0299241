"""Lookups shared by the notification endpoints and pages: the caller's channel (another
user's is a 404, never a 403), the channel rules and the VAPID keys."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from medianest.auth.dependencies import CurrentUser
from medianest.context import AppContext
from medianest.core.deps import SessionDep
from medianest.notifications import channels, delivery
from medianest.notifications.models import NotificationChannel
from medianest.notifications.senders import VapidKeys


async def owned_channel(
    channel_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> NotificationChannel:
    return await channels.owned_channel(session, user=user, channel_id=channel_id)


def channel_rules(ctx: AppContext) -> channels.ChannelRules:
    return channels.ChannelRules(
        allow_private_hosts_for_users=ctx.settings.notifications_allow_private_hosts
    )


def vapid_keys(ctx: AppContext) -> VapidKeys | None:
    return delivery.vapid_keys(ctx)


OwnedChannel = Annotated[NotificationChannel, Depends(owned_channel)]
