"""What every command shares: one-line user errors, ``key=value`` parameters, configs, score tables."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import click

__all__ = ["UserError", "parse_params", "parse_rule", "read_config", "rule_text", "user_errors"]


class UserError(click.ClickException):
    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class InternalError(UserError):
    """An unexpected exception (a bug), still reported as one line; exit code 3."""

    exit_code = 3


def user_errors(fn):
    """Turn the library's expected errors into one clear line."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from anomalib_ae.io import ModelFileError

        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except (ValueError, FileNotFoundError, ModelFileError, TypeError, KeyError) as exc:
            raise UserError(str(exc)) from None
        except OSError as exc:  # output path a folder, full disk, permission denied, ...
            raise UserError(_os_error_line(exc)) from None
        except Exception as exc:  # a bug: still one line (exit code 3); ANOMALIB_AE_DEBUG=1 shows the traceback
            if os.environ.get("ANOMALIB_AE_DEBUG"):
                raise
            raise InternalError(f"unexpected {type(exc).__name__}: {exc} (this is a bug, please report it; "
                                "set ANOMALIB_AE_DEBUG=1 for the traceback)") from None

    return wrapper


def _os_error_line(exc: OSError) -> str:
    """One line for an operating-system error: what failed and on which path."""
    what = exc.strerror or str(exc) or type(exc).__name__
    where = f": {exc.filename}" if exc.filename else ""
    return f"{what}{where}"


def parse_params(items: tuple[str, ...]) -> dict:
    """``key=value`` pairs; values are read as YAML scalars/lists (``5``, ``0.1``, ``[64, 32]``, ``true``)."""
    import yaml

    params = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"--param expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        try:
            params[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise UserError(f"--param {key}: cannot parse value {value!r}: {exc}") from None
    return params


def parse_rule(text):
    """``--threshold`` text -> a threshold rule (a number is a fixed score); checked before any training."""
    if text is None:
        return None
    from anomalib_ae.scoring.threshold import parse_threshold

    try:
        rule = float(text)
    except ValueError:
        rule = text
    parse_threshold(rule)
    return rule


def rule_text(rule, contamination) -> str:
    from anomalib_ae.scoring.threshold import rule_text as text

    return text(rule, contamination)


def read_config(path: Path) -> dict:
    import yaml

    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {exc}") from None
    if cfg is not None and not isinstance(cfg, dict):
        raise UserError(f"{path}: a config must be a mapping with adapter/detector/threshold/scoring sections")
    return cfg or {}
