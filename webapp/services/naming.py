"""Keycloak group names: the `$var` template of docs/PRODUCT.md §1.1 and the default name."""

from __future__ import annotations

from string import Template

from ..models import NAME_LENGTH, Offering, OfferingRole, Resource

TEMPLATE_VARIABLES = (
    "role_name",
    "scope_id",
    "offering_uuid",
    "offering_name",
    "offering_slug",
    "organization_uuid",
    "organization_name",
    "organization_slug",
    "resource_uuid",
    "resource_name",
    "resource_slug",
)
TEMPLATE_HELP = (
    "Use $variable or ${variable}; write $$ for a literal dollar sign. Variables: "
    + ", ".join(f"${name}" for name in TEMPLATE_VARIABLES)
    + ". Example: ${offering_slug}_${role_name}"
)


def template_errors(template: str) -> list[str]:
    """Why a template is invalid, in words; empty when it is fine (an empty template is fine)."""
    problems: list[str] = []
    for match in Template.pattern.finditer(template):
        name = match.group("named") or match.group("braced")
        if match.group("invalid") is not None:
            problems.append(
                f"Invalid placeholder at position {match.start('invalid') + 1}: "
                "use $name or ${name}, or $$ for a dollar sign."
            )
        elif name and name not in TEMPLATE_VARIABLES:
            problems.append(f"Unknown variable ${name}. Allowed: {', '.join(TEMPLATE_VARIABLES)}.")
    return problems


def _slugify(value: str) -> str:
    return "-".join("".join(ch.lower() if ch.isalnum() else " " for ch in value).split())


def render_group_name(offering: Offering, role: OfferingRole, resource: Resource | None, scope_id: str) -> str:
    template = (offering.keycloak_group_name_template or "").strip()
    if template and not template_errors(template):
        values = {
            "role_name": role.name,
            "scope_id": scope_id,
            "offering_uuid": offering.uuid,
            "offering_name": offering.name,
            "offering_slug": offering.slug,
            "organization_uuid": offering.organization.uuid,
            "organization_name": offering.organization.name,
            "organization_slug": offering.organization.slug,
            "resource_uuid": resource.uuid if resource else "",
            "resource_name": resource.name if resource else "",
            "resource_slug": _slugify(resource.name) if resource else "",
        }
        name = Template(template).substitute(values).strip()
        if name:
            return name[:NAME_LENGTH]
        # A template of empty variables (e.g. "$scope_id" without a scope) would give a blank name.
    parts = [offering.uuid, scope_id or (resource.uuid if resource else ""), role.name]
    return "_".join(part for part in parts if part)[:NAME_LENGTH]
