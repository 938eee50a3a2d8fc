"""Import while erasing, on both backends: mail imported during or after an erasure never
attaches to the erased person and nothing of them survives (the final scan, the cases, the
SQLite file and its log). A few trials here every run; ``python -m bench erasure_race
--repeat 50`` runs fifty per backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.erasure_race import trial


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_import_while_erasing_leaves_nothing_of_the_person(
    db_url: str, tmp_path: Path, seed: int
) -> None:
    result = trial(db_url, tmp_path, seed=seed, oversize=seed == 0)

    assert result.status == "complete"
    assert result.left == {}
    assert result.attached == 0
    assert result.file_hits == []
