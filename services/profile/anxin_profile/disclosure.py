"""Rendering values as policy says: field classification and mask from `fields.yaml`,
view (plain, masked, hidden) from the decision's field views. Unknown fields are hidden."""

from __future__ import annotations

from collections.abc import Mapping

from anxin_shared.masking import apply_view

Fields = Mapping[str, Mapping[str, str]]


def view_for(fields: Fields, views: Mapping[str, str], field: str) -> str:
    """The view of one data-dictionary field (`customer.mobile`) for this decision."""
    spec = fields.get(field)
    if spec is None:
        return "hidden"
    return views.get(spec["classification"], "hidden")


def classification(fields: Fields, field: str) -> str | None:
    """The classification of a data-dictionary field."""
    spec = fields.get(field)
    return spec["classification"] if spec else None


def render(fields: Fields, views: Mapping[str, str], field: str, value: object) -> str | None:
    """The value as the caller may see it (None when hidden or absent)."""
    spec = fields.get(field)
    if spec is None or value is None:
        return None
    return apply_view(str(value), spec["mask"], view_for(fields, views, field))


def render_as(fields: Fields, field: str, value: object, view: str) -> str | None:
    """The value in an explicit view (for unmask and sharing)."""
    spec = fields.get(field)
    if spec is None or value is None:
        return None
    return apply_view(str(value), spec["mask"], view)


def at_most_masked(view: str) -> str:
    """`plain` lowered to `masked`; `masked` and `hidden` unchanged."""
    return "masked" if view == "plain" else view
