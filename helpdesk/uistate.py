"""Small remembered UI choices (theme, last queue) in a JSON file beside the config.

Kept apart from the TOML config on purpose: the config is the person's own file, this one is
rewritten by the desk. A missing or damaged file just means "nothing remembered".
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from helpdesk.config import config_dir


def state_path() -> Path:
    return config_dir() / "ui-state.json"


def load_state(path: Path | None = None) -> dict[str, Any]:
    path = path or state_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_state(updates: dict[str, Any], path: Path | None = None) -> None:
    """Merge ``updates`` into the file, replacing it atomically (never a half-written file)."""
    path = path or state_path()
    state = {**load_state(path), **updates}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ui-state-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
