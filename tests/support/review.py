"""A destination with outputs waiting for review, as a run leaves it, built without a model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from schemas.catalog import CatalogRow, Outcome
from tasks.catalog import write_catalog_part
from tests.support.images import encoded, product_photo


def waiting_destination(tmp_path: Path, names: list[str]) -> tuple[Path, Path, str]:
    """(source folder, destination, catalog URL) with `names` waiting for review under
    amazon-main and one more original processed, all in one real catalog part."""
    source, dest = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    rows = []
    for index, name in enumerate([*names, "fine.jpg"]):
        photo = product_photo((640 + 10 * index, 480))
        (source / name).write_bytes(encoded(photo))
        waiting = name != "fine.jpg"
        folder = dest / ("_review/amazon-main" if waiting else "amazon-main")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(encoded(photo))
        rows.append(
            CatalogRow(
                run_id="run-1",
                batch=0,
                source_key=name,
                source_uri=str(source / name),
                status=(Outcome.NEEDS_REVIEW if waiting else Outcome.PROCESSED).value,
                preset="amazon-main",
                model="isnet-imgly",
                model_sha256="0" * 64,
                sha256=f"{index:064d}",
                output_keys=[str(folder / name)],
                confidence=0.2 if waiting else 0.95,
                compliance=json.dumps(
                    [
                        {
                            "code": "low_confidence",
                            "value": 0.2,
                            "limit": 0.5,
                            "severity": "review",
                            "rule": "packshot",
                        }
                    ]
                    if waiting
                    else []
                ),
                processed_at=datetime.now(UTC),
            )
        )
    catalog = str(dest / "catalog")
    write_catalog_part(catalog, rows, run_id="run-1", batch=0)
    return source, dest, catalog
