"""Safe persistence for components: JSON and numpy arrays, never pickle.

Loading a model therefore cannot run code, whoever wrote the files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_array(path: Path, array: NDArray[Any]) -> None:
    with path.open("wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)


def read_array(path: Path) -> NDArray[Any]:
    return np.asarray(np.load(path, allow_pickle=False))
