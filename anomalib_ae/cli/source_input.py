"""Command-line side of non-file inputs: ``--input prometheus://HOST:PORT`` with
``--query name=PROMQL``, ``--start``, ``--end``, ``--step`` (shared by fit, score and pull)."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["INPUT", "resolve_cli_input", "source_options"]


class _InputType(click.ParamType):
    """A path, or a ``prometheus://`` URL kept as text (a Path would fold its ``//``)."""

    name = "PATH|URL"

    def convert(self, value, param, ctx):
        from anomalib_ae.sources import is_prometheus_url

        if isinstance(value, Path) or not is_prometheus_url(str(value)):
            return Path(value)
        return str(value)


INPUT = _InputType()


def source_options(fn):
    """Add --query / --start / --end / --step to a command."""
    opts = [
        click.option("--query", "-q", "queries", multiple=True,
                     help="Prometheus input: metric column name=PROMQL (repeatable); replaces the config's data.queries."),
        click.option("--start", default=None, help="Prometheus input: range start (RFC 3339, Unix seconds, now-6h)."),
        click.option("--end", default=None, help="Prometheus input: range end (default now)."),
        click.option("--step", default=None, help="Prometheus input: resolution, e.g. 15s, 1m."),
        click.option("--entity-label", default=None,
                     help="Prometheus input: label naming the entity (default: data.entity_label, the model's "
                          "entity column, else instance)."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def parse_queries(items) -> dict[str, str]:
    out = {}
    for item in items or ():
        if "=" not in item:
            raise click.ClickException(f"--query expects name=PROMQL, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def resolve_cli_input(value, config: dict | None, queries=(), start=None, end=None, step=None, entity_label=None,
                      model=None):
    """``(data, adapter_params)``: a table read from Prometheus with the telemetry settings it
    needs, or ``(path, {})`` for a file (which must exist)."""
    from anomalib_ae.sources import is_prometheus_url, resolve_input

    if not is_prometheus_url(str(value)):
        if queries or start or end or step or entity_label:
            raise click.ClickException("--query / --start / --end / --step / --entity-label apply to a prometheus:// "
                                       "input only")
        from anomalib_ae.data.items import parse_item_id

        if not Path(parse_item_id(str(value))[0]).exists():  # an item id (scan.dcm#frame=3) names an existing file
            raise click.ClickException(f"input not found: {value}")
        return value, {}
    adapter = getattr(model, "adapter_", None)
    default = getattr(adapter, "entity_col", "instance") if adapter is not None else "instance"
    return resolve_input(str(value), (config or {}).get("data"), queries=parse_queries(queries) or None,
                         start=start, end=end, step=step, entity_label=entity_label or "",
                         default_entity_label=default)
