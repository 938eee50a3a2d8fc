"""Run one benchmark and print its figures beside their same-run baselines."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys

import bench
from bench.common import Figure, options


def available() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__)
        if m.name not in {"common"} and not m.name.startswith("_")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=available())
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--workdir", help="folder to keep the generated database in")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", metavar="URL",
                        help="a PostgreSQL server to run on (postgresql://user:pass@host/db; the "
                             "benchmark makes its own databases there, which needs CREATEDB)")
    parser.add_argument("--agents", type=int, default=20, help="simulated agents (team)")
    parser.add_argument("--seconds", type=float, default=60, help="how long to run (team)")
    parser.add_argument("--minutes", type=float, default=2.0,
                        help="length of a scripted session (session: 60 for the hour-long run)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    module = importlib.import_module(f"bench.{args.name}")
    if hasattr(module, "report"):  # a benchmark that measures quality, not speed
        print(module.report(options(args), as_json=args.json))
        return 0
    figures: list[Figure] = module.run(options(args))
    if args.json:
        json.dump([f.as_dict() for f in figures], sys.stdout, indent=2)
        print()
    else:
        width = max(len(f.name) for f in figures) if figures else 10
        print(f"{'figure':<{width}}  {'value':>12}  {'baseline':>12}  {'ratio':>7}  unit")
        for f in figures:
            print(f"{f.name:<{width}}  {f.value:>12.4f}  {f.baseline:>12.4f}  "
                  f"{f.ratio:>7.2f}  {f.unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
