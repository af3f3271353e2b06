"""Offerings keep out of each other's way in a shared realm: no offering's group may be inside, equal to or above
another offering's group on the same Keycloak server and realm.

Every offering finds and creates its group by path (`{base}/{offering_slug}`, see subtree.py), so the path
decides where its subtree lands. Were one offering's path inside another's (`/base` above `/base/hpc`, or
`/base/hpc` above `/base/hpc/x`), its subtree would contain the other's groups and members, and a membership
grant could add people to them. The rule is checked when settings are saved and again whenever an offering's
gateway is obtained (every read and every write of Keycloak goes through it), because a conflicting offering
may have appeared since (for instance through `flask load-data`).

Paths are compared segment by segment, ignoring case (a Keycloak on a case-insensitive database treats `HPC`
and `hpc` as one name). "The same server" means the same host name, whatever the scheme, port or path of the
URL: one Keycloak is often reachable as `https://sso` and `http://sso:8080`, and treating them as one can only
refuse more. Two different host names of one server (an alias, an IP address) cannot be told apart here;
OKG_KEYCLOAK_ALLOWED_URLS, which pins the servers that may be used, is the remedy for that.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ...extensions import db
from ...keycloak.destinations import server_host
from ...models import Offering
from ..errors import ValidationFailed
from .subtree import root_path


@dataclass(frozen=True)
class Place:
    host: str
    realm: str
    root: tuple[str, ...]  # the offering group's path, one casefolded name per segment

    def overlaps(self, other: Place) -> bool:
        if (self.host, self.realm) != (other.host, other.realm):
            return False
        shorter = min(len(self.root), len(other.root))
        return self.root[:shorter] == other.root[:shorter]


def root_segments(base_group: str, slug: str) -> list[str]:
    """The offering group's path split as subtree.py walks it, one group name per segment."""
    return [part for part in root_path(base_group, slug).split("/") if part]


def place_of(url: str, realm: str, base_group: str, slug: str) -> Place | None:
    """Where an offering configured like this would keep its groups; None when it has no server or realm yet."""
    host = server_host(url.strip())
    realm = realm.strip()
    if host is None or not realm:
        return None
    return Place(host, realm.casefold(), tuple(part.casefold() for part in root_segments(base_group, slug)))


def offering_place(offering: Offering) -> Place | None:
    return place_of(offering.keycloak_url, offering.keycloak_realm, offering.keycloak_base_group, offering.slug)


@dataclass(frozen=True)
class Neighbour:
    id: int
    name: str
    root: str


def overlapping_offerings(place: Place | None, offering_id: int | None) -> list[Neighbour]:
    """The other offerings whose groups would overlap `place`, by name (as the database holds them)."""
    if place is None:
        return []
    query = select(
        Offering.id,
        Offering.name,
        Offering.slug,
        Offering.keycloak_url,
        Offering.keycloak_realm,
        Offering.keycloak_base_group,
    ).where(Offering.keycloak_url != "", Offering.keycloak_realm != "")
    with db.session.no_autoflush:  # a read on the way to Keycloak: it must not flush the caller's pending work
        rows = db.session.execute(query.order_by(Offering.name, Offering.id)).all()
    return [
        Neighbour(row.id, row.name, root_path(row.keycloak_base_group, row.slug))
        for row in rows
        if row.id != offering_id
        and (theirs := place_of(row.keycloak_url, row.keycloak_realm, row.keycloak_base_group, row.slug)) is not None
        and place.overlaps(theirs)
    ]


def check_place(
    name_others: bool,
    offering_id: int | None,
    url: str,
    realm: str,
    base_group: str,
    slug: str,
) -> None:
    """Refuse settings whose offering group would overlap another offering's. `name_others` for staff and
    operators only: the manager of one offering may not learn of the others."""
    place = place_of(url, realm, base_group, slug)
    others = overlapping_offerings(place, offering_id)
    if not others or place is None:
        return
    path = root_path(base_group, slug)
    if name_others:
        names = ", ".join(f"'{other.name}' ({other.root})" for other in others)
        raise ValidationFailed.field(
            "base_group",
            f"This offering's group {path} would be inside, equal to or above the group of {names} on the same "
            "Keycloak server and realm. Choose a base group (or realm) that keeps them apart.",
        )
    raise ValidationFailed(
        [
            f"This offering's group {path} would be inside, equal to or above another offering's group on the "
            "same Keycloak server and realm. Ask staff to choose a base group that keeps them apart."
        ]
    )


def require_own_place(offering: Offering) -> None:
    """Before any Keycloak call: the offering's group may not overlap another offering's (see the module doc)."""
    place = offering_place(offering)
    if place is not None and overlapping_offerings(place, offering.id):
        path = root_path(offering.keycloak_base_group, offering.slug)
        raise ValidationFailed(
            [
                f"Keycloak is not used for this offering: its group {path} "
                "would be inside, equal to or above another offering's group on the same Keycloak server and realm. "
                "Staff must change the base group of one of them."
            ]
        )
