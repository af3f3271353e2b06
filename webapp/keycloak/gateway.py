"""The one interface the service layer uses to talk to Keycloak."""

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from .types import AdminEventPage, AdminEventsStatus, RemoteGroup, RemoteUser


class KeycloakGateway(Protocol):
    """Operations on one realm. Every method raises only `webapp.keycloak.errors` exceptions.

    Every id argument must be a Keycloak id (`ids.checked_id`): anything else is InvalidId before any call.
    Walks and pulls are bounded (`limits.Limits`): more than allowed is LimitExceeded.
    """

    def check_connection(self) -> None:
        """Authenticate and make one cheap call; raise AuthFailed/Unavailable on failure."""

    def server_version(self) -> str | None:
        """The server's version ("24.0.5"), found once per connection; None when it does not say."""

    def admin_events_status(self) -> AdminEventsStatus:
        """Whether the realm records admin events (with details), and whether our account may read them.
        A missing role is an answer here, not an error; other failures raise as usual."""

    def enable_admin_events(self) -> None:
        """Turn on admin events with their details, keeping the rest of the realm's events settings;
        PermissionDenied without manage-events (or manage-realm)."""

    def admin_events_page(self, since: datetime, first: int, max_results: int) -> AdminEventPage:
        """One page of the realm's membership admin events, newest first, of roughly `since` on (the server
        filters by day: the caller drops what is older). PermissionDenied without view-events."""

    def username_of(self, user_id: str) -> str | None:
        """The username of a user of the realm; None when the realm has no such user (another realm's)."""

    def client_name_of(self, client_id: str) -> str | None:
        """The clientId of the realm's client with this internal id; None when not ours or not readable."""

    def own_user_id(self) -> str | None:
        """The user id our own account acts as in admin events (its service account); None when unknown."""

    def list_top_level_groups(self, search: str | None = None) -> list[RemoteGroup]:
        """All top-level groups of the realm (paged internally)."""

    def get_group(self, group_id: str) -> RemoteGroup:
        """One group by id; NotFound when it does not exist."""

    def get_group_by_path(self, path: str) -> RemoteGroup:
        """One group by its slash-separated path; NotFound when it does not exist."""

    def iter_children(self, group_id: str) -> Iterator[RemoteGroup]:
        """Direct children of a group, paged internally."""

    def walk_subtree(self, group_id: str, label: str = "") -> list[RemoteGroup]:
        """All descendants of a group (not the group itself), breadth first; `label` names it in errors."""

    def iter_group_members(self, group_id: str, label: str = "") -> Iterator[list[RemoteUser]]:
        """Direct members of a group, one page (list) at a time; `label` names it in errors."""

    def group_members_page(self, group_id: str, first: int, max_results: int) -> list[RemoteUser]:
        """One slice of a group's direct members (Keycloak's `first`/`max`), in Keycloak's order (by username).

        Keycloak has no member count and no member search: a caller that wants to know whether a next page
        exists asks for one more than it shows."""

    def search_users(self, query: str, first: int = 0, max_results: int = 25) -> list[RemoteUser]:
        """Users whose username, email, first or last name match `query`."""

    def count_users(self, query: str) -> int:
        """How many users `search_users(query)` could return in total."""

    def find_user_by_username(self, username: str) -> RemoteUser | None:
        """The user with exactly this username, or None."""

    # The writes below say what happens when another instance makes the same change at the same moment:
    # several web instances and workers share one realm, so every one of these races in production.

    def create_group(self, name: str, parent_id: str | None = None) -> RemoteGroup:
        """Create a group (top level or under parent).

        AlreadyExists when a sibling has the name, also when another request created it a moment ago: the
        caller reads it back and adopts it (it is theirs, never ours to delete). NotFound when the parent is gone.
        """

    def delete_group(self, group_id: str) -> None:
        """Delete a group and its subtree.

        NotFound when it does not exist, also when another request deleted it at the same moment (Keycloak
        answers 500 to the losers; the gateway asks again and finds it gone). Callers treat NotFound as done.
        """

    def add_user_to_group(self, user_id: str, group_id: str) -> None:
        """Make the user a direct member; done when they already are one, also when another request added
        them at the same moment (Keycloak's 409 here means exactly that). NotFound when the user or the group
        does not exist."""

    def remove_user_from_group(self, user_id: str, group_id: str) -> None:
        """Make the user no direct member; done when they are none (any more), also when another request
        removed them at the same moment. NotFound when the user or the group does not exist: the caller decides
        (a revoke treats it as nothing left to revoke)."""

    def is_member(self, user_id: str, group_id: str) -> bool:
        """Whether the user is a direct member of the group (its groups are read, paged); NotFound when the
        user does not exist. Answers what an apply cut off mid-call really did."""
