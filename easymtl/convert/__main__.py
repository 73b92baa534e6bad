"""python -m easymtl.convert --from easyrec X.config --output Y.config: convert another
project's config into an easymtl config, every source field noted as a comment."""

from __future__ import annotations

import argparse
import os
import sys

from easymtl import cli


def main(argv: list[str] | None = None) -> int:
    from easymtl.convert import SOURCES

    parser = argparse.ArgumentParser(
        prog="python -m easymtl.convert",
        description="Convert another project's pipeline config into an easymtl config that "
        "you can keep: each source field becomes a comment saying where it went, why it "
        "was dropped, or where easymtl's meaning differs. A field that cannot be converted "
        "is an error naming its line and what to do (all of them are listed).",
    )
    parser.add_argument(
        "--from", dest="source", required=True, choices=sorted(SOURCES),
        help="The source format.",
    )  # fmt: skip
    parser.add_argument("config", help="The source config file.")
    parser.add_argument(
        "--output", default="-",
        help="Where the easymtl config is written (default '-': standard output). It is "
        "written only when every field converts.",
    )  # fmt: skip
    args = parser.parse_args(argv)
    return cli.run(lambda: _convert(args))


def _convert(args) -> None:
    from easymtl.config import validate
    from easymtl.convert import convert_file
    from easymtl.convert.record import Refused
    from easymtl.convert.writer import render
    from easymtl.errors import EasymtlError

    try:
        conversion = convert_file(args.config, args.source, validate)
    except Refused as e:
        if len(e.refusals) == 1:
            raise EasymtlError(e.refusals[0]) from None
        for line in e.refusals:
            print(f"error: {line}", file=sys.stderr)
        raise EasymtlError(
            f"{args.config}: {len(e.refusals)} fields cannot be converted (listed above); "
            "nothing was written"
        ) from None
    text = render(conversion.config, conversion.notes, header(args.config, args.output))
    if args.output == "-":
        sys.stdout.write(text)
        return
    _write(args.output, text)
    print(f"wrote {args.output}: {_summary(conversion)}")


def _write(path: str, text: str) -> None:
    """Writes `text` to `path` through a temporary file renamed into place (no part of a
    file is ever left); without TensorFlow, which easymtl.disk loads."""
    from easymtl.errors import EasymtlError

    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise EasymtlError(f"{path}: cannot write the converted config: {e.strerror}") from None


def header(source: str, output: str) -> list[str]:
    """The comment lines at the top of a converted config."""
    target = output if output != "-" else "this file"
    return [
        f"Converted from EasyRec's {os.path.basename(source)} by python -m easymtl.convert "
        "(see docs/coming_from_easyrec.md).",
        "Each comment names an EasyRec field (and its line), then what became of it: kept,",
        "converted to which easymtl field, or dropped and why; 'differs:' marks where",
        "easymtl's meaning differs from EasyRec's.",
        f"Train: python -m easymtl.train --config {target}",
    ]


def _summary(conversion) -> str:
    notes = conversion.notes
    differs = sum(n.differs for n in notes)
    return f"{len(notes)} EasyRec messages converted, {differs} with a difference noted"


if __name__ == "__main__":
    raise SystemExit(main())
