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


def add_input_options(p: argparse.ArgumentParser, *, format_flag: str = "--format", sensor: bool = True) -> None:
    """``--format NAME`` (or ``format_flag``) and ``--sensor WxH``: what the INPUT event file is, for
    a headerless or ambiguous one (an EVT2/EVT3 ``.raw`` without its ``%`` header, an
    N-MNIST-like ``.bin``); content detection stays the default."""
    from snnstudio.events.io import FORMATS

    p.add_argument(format_flag, dest="in_format", default=None, metavar="NAME", choices=list(FORMATS), type=str.lower,
                   help=f"the input file's format ({', '.join(FORMATS)}); default: detected from its content")
    if sensor:
        p.add_argument("--sensor", dest="sensor", default=None, metavar="WxH",
                       help="the input file's sensor size in pixels (e.g. 320x320), for a file without one "
                            "in its header; default: the header's, else the events' extent")


def input_sensor(args: argparse.Namespace) -> tuple[int, int] | None:
    """The ``--sensor`` option as ``(width, height)`` (a malformed one is a one-line error)."""
    from snnstudio.events.io import parse_sensor_size

    return parse_sensor_size(getattr(args, "sensor", None))
