"""The embedded broker's access control, as amqtt plugins: logins checked by
:class:`tiesense.provisioning.BrokerLogins`, topics by :func:`tiesense.provisioning.may`
of the role the login gave that connection.

amqtt loads these by their dotted path; only :mod:`tiesense.broker` names them,
so importing tiesense never imports amqtt before a broker starts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin

from .provisioning import may

__all__ = ["LoginPlugin", "RulesPlugin"]


class LoginPlugin(BaseAuthPlugin):
    """Let in only a user whose password :class:`~tiesense.provisioning.BrokerLogins` accepts."""

    @dataclass
    class Config:
        logins: Any = field(default=None)

    async def authenticate(self, *, session) -> bool:
        role = self.context.config.logins.authenticate(session.username, session.password)
        # kept with this connection: a failed login of the same name elsewhere changes nothing here
        session.tiesense_role = role
        return role is not None


class RulesPlugin(BaseTopicPlugin):
    """Let each user publish, subscribe and receive only what its role allows."""

    @dataclass
    class Config:
        logins: Any = field(default=None)

    async def topic_filtering(self, *, session=None, topic=None, action=None) -> bool:
        role = getattr(session, "tiesense_role", None)
        if role is None or topic is None or action is None:
            return False
        return may(session.username, role, topic, str(action))
