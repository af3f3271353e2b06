"""Errors the service layer raises; the API and the UI each turn them into their own responses."""

from __future__ import annotations

ErrorBody = dict[str, list[str]] | list[str]


class ServiceError(Exception):
    @property
    def message(self) -> str:
        """The error in words, for the UI, logs and recorded row errors."""
        return str(self)


class ValidationFailed(ServiceError):
    """Bad input. `errors` is either {"field": ["message"]} or ["message"], exactly as the API returns it."""

    def __init__(self, errors: ErrorBody) -> None:
        super().__init__(str(errors))
        self.errors = errors

    @classmethod
    def field(cls, name: str, message: str) -> ValidationFailed:
        return cls({name: [message]})

    @property
    def messages(self) -> list[str]:
        if isinstance(self.errors, dict):
            return [message for messages in self.errors.values() for message in messages]
        return list(self.errors)

    @property
    def message(self) -> str:
        return " ".join(self.messages)


class ObjectNotFound(ServiceError):
    """The object does not exist or the user may not see it (both are 404 to the outside)."""


class NotAllowed(ServiceError):
    """The user sees the object but may not do this with it, said in words (the API answers 403 {"detail": ...}):
    a group manager asking for what only the offering's managers may do."""


ONLY_OFFERING_MANAGERS = "Only the offering's managers may do this; you manage members of some of its groups."


class RemoteFailure(ServiceError):
    """Keycloak failed (down, slow, auth). `message` reads "<what failed>: <reason>"."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"{action}: {reason}")
        self.action = action
        self.reason = reason

    @property
    def message(self) -> str:
        return f"{self.action}: {self.reason}"


KEYCLOAK_NOT_ENABLED = "Keycloak integration is not enabled for this offering."
OFFERING_NOT_FOUND = "Offering not found."
REMOTE_GROUP_NOT_FOUND = "Remote group not found in Keycloak."
REQUIRED = "This field is required."


class Refused(ServiceError):
    """A request that cannot be done as asked, said in one sentence (the API answers 400 {"detail": ...})."""


class Conflict(ServiceError):
    """Something else got there first or changed meanwhile (the API answers 409 {"detail": ...})."""


class Unavailable(ServiceError):
    """A service we depend on, other than Keycloak, cannot be reached (the API answers 503 {"detail": ...})."""


class TooBusy(ServiceError):
    """Too much of this work is already waiting; nothing was queued (the API answers 429 {"detail": ...})."""


class Gone(ServiceError):
    """It existed, and was removed on purpose, as a retention rule says (the API answers 410 {"detail": ...})."""
