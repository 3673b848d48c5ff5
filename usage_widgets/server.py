"""How the served page decides who may see it: the access token, or a plain 403."""

from __future__ import annotations

from jupyter_server.auth.identity import PasswordIdentityProvider, User
from tornado import web


class TokenRequired(PasswordIdentityProvider):
    """Answers 403 to a request without a valid token (or the cookie a valid token set).

    Voilà's default sends such requests to a login page; a dashboard shared by a link has no
    use for one, and a plain refusal tells a scanner nothing.
    """

    async def _get_user(self, handler: web.RequestHandler) -> User | None:
        user = await super()._get_user(handler)
        if user is None and self.auth_enabled:
            raise web.HTTPError(403, "a valid access token is required")
        return user
