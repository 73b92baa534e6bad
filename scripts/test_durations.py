"""Writes tests/durations.json: the seconds each test file took, from pytest's JUnit XML.

tests/conftest.py runs the heaviest files first, so that under pytest-xdist the last
files left are short ones and both workers finish together. Refresh the file after
adding or changing heavy tests (the order only moves time around; a stale file costs
a longer tail, never a failure):

    .venv/bin/python -m pytest -q -n 2 --dist loadscope --junitxml=/tmp/suite.xml
    .venv/bin/python scripts/test_durations.py /tmp/suite.xml
"""

from __future__ import annotations

import argparse
import collections
import json
import xml.etree.ElementTree as ET
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "durations.json"


def file_seconds(xml_paths: list[str]) -> dict[str, float]:
    """Seconds per test file (as "tests/…py") summed over the testcases of `xml_paths`."""
    seconds: dict[str, float] = collections.Counter()
    for path in xml_paths:
        for case in ET.parse(path).getroot().iter("testcase"):
            module = case.get("classname", "").split("::")[0]
            parts = module.split(".")
            # classname is the dotted module path, with a class name after it for methods.
            while parts and not Path("/".join(parts) + ".py").exists():
                parts.pop()
            if parts:
                seconds["/".join(parts) + ".py"] += float(case.get("time", 0))
    return dict(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("xml", nargs="+", help="pytest --junitxml outputs")
    args = parser.parse_args()
    seconds = file_seconds(args.xml)
    ordered = dict(sorted(((k, round(v, 1)) for k, v in seconds.items()), key=lambda kv: -kv[1]))
    OUT.write_text(json.dumps(ordered, indent=1) + "\n")
    print(f"{len(ordered)} files, {sum(ordered.values()):.0f}s in all: {OUT}")


if __name__ == "__main__":
    main()
