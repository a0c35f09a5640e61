"""Keep machine paths out of the published notebook.

papermill writes the parameters it injected (``data_dir``, ``output_dir``) into a code cell and,
with the input and output paths, into the notebook's metadata. Those are absolute paths of the
machine that ran the report (an analyst's home folder, a random staging folder name), which a
published ``notebook.ipynb`` should not carry. :func:`scrub_paths` rewrites them: a path inside
the project becomes relative to it (``data/processed``), the staging folder becomes the report's
final folder, and any other absolute folder is replaced by ``<outside the project>``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evalkit.files import write_text

__all__ = ["OUTSIDE", "scrub_paths"]

#: What an absolute path outside the project becomes.
OUTSIDE = "<outside the project>"


def _relative(path: str, root: Path) -> str:
    p = Path(path)
    if not p.is_absolute():
        return path
    try:
        return p.relative_to(root).as_posix() or "."
    except ValueError:
        return OUTSIDE


def _rewrite(text: str, replacements: list[tuple[str, str]]) -> str:
    for old, new in replacements:
        text = text.replace(old, new)
    return text


def scrub_paths(
    notebook: Path, *, project: Path, staging: Path, target: Path, paths: list[str]
) -> None:
    """Rewrite the machine paths papermill recorded in ``notebook`` (in place).

    The injected-parameters cell also gets a fixed id (papermill draws a random one per run).

    ``paths`` are the absolute paths passed as parameters (data folder, notebook, ...); the
    ``staging`` folder is named as ``target``, the folder the report is published to.
    """
    project = project.resolve()
    replacements = [(str(staging), _relative(str(target), project))]
    # Longest first, so a path is never half-replaced by a prefix of itself.
    for p in sorted(
        {str(Path(p)) for p in paths if p and Path(p).is_absolute()}, key=len, reverse=True
    ):
        replacements.append((p, _relative(p, project)))
    nb: dict[str, Any] = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            # papermill gives the cell it inserts a random id on every run, which the HTML
            # carries: a fixed one keeps index.html the same for the same inputs
            if "id" in cell:
                cell["id"] = "injected-parameters"
            src = cell.get("source", "")
            cell["source"] = (
                _rewrite(src, replacements)
                if isinstance(src, str)
                else [_rewrite(s, replacements) for s in src]
            )
    meta = nb.get("metadata", {}).get("papermill")
    if isinstance(meta, dict):
        text = _rewrite(
            json.dumps(meta, ensure_ascii=False),
            [(json.dumps(o)[1:-1], json.dumps(n)[1:-1]) for o, n in replacements],
        )
        nb["metadata"]["papermill"] = json.loads(text)
    write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", notebook)
