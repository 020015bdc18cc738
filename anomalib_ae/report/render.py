"""Render :class:`~anomalib_ae.report.ReportData` with the packaged Jinja2 template; atomic write."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TEMPLATE = "report.html.j2"


def render_report(data) -> str:
    """The HTML page (str) for ``data``; every value is autoescaped."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("anomalib_ae.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(TEMPLATE).render(r=data)


def write_report(data, path: str | os.PathLike) -> Path:
    """Write the page to ``path`` atomically (temp file in the same folder, fsync, ``os.replace``)."""
    path = Path(path)
    html = render_report(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
