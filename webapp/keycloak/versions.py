"""What a Keycloak server can do, by version (see docs/KEYCLOAK.md, "What changed between versions").

- 22.x: no `/groups/{id}/children`; subgroups come inline (`subGroups`, recursively) in `/groups/{id}`,
  without `parentId` and often without `subGroupCount`. The gateway reads a subtree from one `/groups/{id}`
  and takes parents and counts from the nesting.
- 23 and 24: `/children` exists but ignores `search`, and its default `max` is 10. The gateway always sends
  `first`/`max` and filters names on our side (also on 25+, where `search` works: one code path).
- 26.3+: the `subGroupsCount` parameter; brief representations drop the count unless asked. The gateway
  always sends `subGroupsCount=true` (older versions ignore unknown parameters).
- 26.6+: organization groups are not served by the realm groups API (HTTP 400): said in words.

The version comes from `GET /admin/serverinfo` once per connection; when that is refused (a service account
without a view role), the gateway probes `/children` instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(r"^(\d+)\.(\d+)")


@dataclass(frozen=True, slots=True)
class ServerCapabilities:
    version: str | None  # "24.0.5"; None when the server would not say
    children_endpoint: bool  # /groups/{id}/children exists (23+)

    @property
    def label(self) -> str:
        return f"Keycloak {self.version}" if self.version else "Keycloak (version not disclosed)"


def major_minor(version: str | None) -> tuple[int, int] | None:
    match = _VERSION.match(version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def capabilities_of(version: str | None) -> ServerCapabilities | None:
    """Capabilities from a version string; None when the version says nothing (probe instead)."""
    parsed = major_minor(version)
    if parsed is None:
        return None
    return ServerCapabilities(version=version, children_endpoint=parsed >= (23, 0))
