"""Options several commands share (not a command itself: the name starts with ``_``)."""

from __future__ import annotations

import argparse


def add_filter_option(p: argparse.ArgumentParser, what: str = "the events") -> None:
    """``--filter SPEC`` (repeatable): event filters of :func:`snnstudio.events.filters.parse_filters`."""
    from snnstudio.events.filters import FILTER_HELP

    p.add_argument("--filter", action="append", default=[], dest="filters", metavar="SPEC",
                   help=f"filter {what} before framing: {FILTER_HELP}; repeatable")


def filter_spec(args: argparse.Namespace) -> str:
    """The canonical spec of the ``--filter`` options (``""``: none); a bad one is a one-line error."""
    from snnstudio.events.filters import format_filters, parse_filters

    return format_filters(parse_filters(getattr(args, "filters", None) or []))
