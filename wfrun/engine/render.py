"""Fill in run-time placeholders (`${resources.r.attr}`, `${phases.p.output}`) in `with:`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wfrun.spec.interpolate import Interpolator, PlaceholderError, Reference

Lookup = Callable[[str, tuple[str, ...]], Any]


class RenderError(ValueError):
    """A run-time placeholder had no value (the loader checked the names, so this is rare)."""


def render_config(config: Mapping[str, Any], lookup: Lookup) -> Any:
    """A copy of `config` with every placeholder replaced and `$${` turned into `${`."""
    if not config:
        return {}

    def resolve(ref: Reference) -> Any:
        try:
            return lookup(ref.namespace, ref.parts)
        except (KeyError, IndexError) as exc:
            message = f"{ref.text} has no value here"
            raise PlaceholderError(message, offset=ref.offset) from exc

    interpolator = Interpolator(resolve, final=True)
    rendered = interpolator.render(dict(config), ("with",))
    if interpolator.errors:
        raise RenderError("; ".join(str(error) for _, error in interpolator.errors))
    return rendered
