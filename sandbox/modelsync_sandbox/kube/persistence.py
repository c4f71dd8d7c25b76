"""The state file: every object plus the resourceVersion counter, written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, cast

JsonObject = dict[str, Any]
FORMAT = "modelsync.dev/kube-sandbox-state/v1"


def write_state(path: Path, state: JsonObject) -> None:
    """Write to a temporary file in the same directory, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump({"format": FORMAT, **state}, fh, separators=(",", ":"))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_state(path: Path) -> JsonObject | None:
    """The saved state, or None when there is no file yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a kube sandbox state file")
    return cast(JsonObject, data)
