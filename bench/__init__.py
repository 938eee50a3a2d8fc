"""Benchmarks: ``python -m bench NAME [--customers N] [--json]``.

Each benchmark is a module ``bench/NAME.py`` with ``run(opts) -> list[Figure]``. A figure pairs
what we measured with a baseline measured in the same run on the same machine (raw SQL, bare
stdlib parsing, a bare Textual app), because absolute timings on shared machines are noise; the
ratio is what we compare against targets.
"""
