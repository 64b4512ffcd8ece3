"""Great Expectations over the catalog rows: a suite per preset, a Checkpoint per batch.

Suites are derived from the schemas: the catalog's columns and required columns
(schemas/catalog.py), the reason codes, and the preset's own numbers (canvas size, output size
limit). Each batch's rows run through the preset's batch suite as one Checkpoint run; the whole
run's rows then run through the run suite (sha256 unique within the run, rejected share). The
Checkpoints update Data Docs, the HTML report Great Expectations renders, in `docs_dir`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from schemas.catalog import CATALOG_COLUMNS, REQUIRED_COLUMNS, CatalogRow, Outcome, Reason
from schemas.presets import Preset
from schemas.run import NearDuplicate, QualityResult

# pHashes this many bits apart or fewer are the same photo, re-shot, re-cropped or re-encoded.
NEAR_DUPLICATE_BITS = 6


def batch_expectations(preset: Preset, *, max_pixels: int) -> list:
    """What every batch's rows must satisfy for `preset`."""
    import great_expectations as gx

    e = gx.expectations
    checks = [
        e.ExpectTableColumnsToMatchSet(column_set=list(CATALOG_COLUMNS), exact_match=False),
        *[e.ExpectColumnValuesToNotBeNull(column=name) for name in REQUIRED_COLUMNS],
        e.ExpectColumnValuesToBeInSet(column="status", value_set=[o.value for o in Outcome]),
        e.ExpectColumnValuesToBeInSet(column="reason", value_set=[r.value for r in Reason]),
        e.ExpectColumnValuesToBeInSet(column="preset", value_set=[preset.name]),
        # a side can be as long as the pixel budget when the other side is 1 px
        e.ExpectColumnValuesToBeBetween(column="width", min_value=1, max_value=max_pixels),
        e.ExpectColumnValuesToBeBetween(column="height", min_value=1, max_value=max_pixels),
    ]
    if preset.layout == "square":
        for column in ("output_width", "output_height"):
            checks.append(
                e.ExpectColumnValuesToBeBetween(
                    column=column, min_value=preset.size, max_value=preset.size
                )
            )
    if preset.rules.max_output_bytes:
        checks.append(
            e.ExpectColumnValuesToBeBetween(
                column="output_bytes", min_value=1, max_value=preset.rules.max_output_bytes.value
            )
        )
    return checks


def run_expectations(*, max_rejected_share: float) -> list:
    """What the run's rows must satisfy as a whole."""
    import great_expectations as gx

    e = gx.expectations
    return [
        e.ExpectColumnValuesToBeUnique(column="sha256"),
        e.ExpectColumnValuesToNotBeInSet(
            column="status", value_set=[Outcome.REJECTED.value], mostly=1.0 - max_rejected_share
        ),
    ]


# Imported by Great Expectations only for expectations packshot's suites never use (KL
# divergence, KS tests): scipy.stats, with scipy's spatial, optimize and linalg, is a third of
# its import (benchmarks/RESULTS.md). Deferred, it loads on first use.
DEFERRED_MODULES = ("scipy.stats",)


def import_great_expectations():
    """The `great_expectations` module, imported with its usage analytics off and
    DEFERRED_MODULES left until used."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if "great_expectations" not in sys.modules:
        for name in DEFERRED_MODULES:
            defer_import(name)
    import great_expectations

    return great_expectations


def defer_import(name: str) -> None:
    """Make `name` a module that runs on its first attribute access, unless it is imported
    already or not installed."""
    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:  # nor is its parent package
        return
    if spec is None or spec.loader is None:
        return
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:  # found as an attribute, `from scipy import stats` does not ask scipy to load it
        setattr(sys.modules[parent], child, module)


def _frame(rows: list[CatalogRow]) -> pd.DataFrame:
    frame = pd.DataFrame([row.model_dump() for row in rows], columns=list(CATALOG_COLUMNS))
    for column in ("output_keys", "warnings"):  # list columns, as text GX can check
        frame[column] = frame[column].map(" ".join)
    return frame


def check_run(
    rows: list[CatalogRow],
    *,
    presets: list[Preset],
    max_pixels: int,
    max_rejected_share: float,
    on_failure: str,
    docs_dir: Path,
) -> QualityResult:
    """Run the Checkpoints of every preset over its rows; the verdict, never an exception.
    Data Docs land in `docs_dir`."""
    gx = import_great_expectations()

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="file", project_root_dir=str(docs_dir))
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    asset = context.data_sources.add_or_update_pandas("catalog").add_dataframe_asset("rows")
    batch_definition = asset.add_batch_definition_whole_dataframe("rows")
    results = []
    for preset in presets:
        mine = [row for row in rows if row.preset == preset.name]
        results += _check_preset(
            context, batch_definition, mine, preset, max_pixels, max_rejected_share
        )
    # One Data Docs build for every result: as a Checkpoint action it re-rendered the whole
    # site (templates compiled afresh) once per Checkpoint, ~0.5 s each.
    context.build_data_docs()
    return _verdict(results, on_failure, docs_dir)


def _check_preset(
    context, batch_definition, rows, preset: Preset, max_pixels: int, max_rejected_share: float
) -> list:
    """One preset's rows: its batch suite per batch, then its run suite over them all."""
    by_batch = _checkpoint(
        context,
        batch_definition,
        f"packshot-{preset.name}-batch",
        batch_expectations(preset, max_pixels=max_pixels),
    )
    by_run = _checkpoint(
        context,
        batch_definition,
        f"packshot-{preset.name}-run",
        run_expectations(max_rejected_share=max_rejected_share),
    )
    results = []
    for batch in sorted({row.batch for row in rows}):
        frame = _frame([row for row in rows if row.batch == batch])
        results.append(by_batch.run(batch_parameters={"dataframe": frame}))
    results.append(by_run.run(batch_parameters={"dataframe": _frame(rows)}))
    return results


def _checkpoint(context, batch_definition, name: str, expectations: list):
    import great_expectations as gx

    suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
    )
    return context.checkpoints.add(
        gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            result_format={"result_format": "SUMMARY"},
        )
    )


def _verdict(results: list, on_failure: str, docs_dir: Path) -> QualityResult:
    failed, evaluated, successful = [], 0, 0
    for result in results:
        for validation in result.run_results.values():
            evaluated += validation.statistics["evaluated_expectations"]
            successful += validation.statistics["successful_expectations"]
            for check in validation.results:
                name = _describe(check.expectation_config)
                if not check.success and name not in failed:
                    failed.append(name)
    index = next(docs_dir.rglob("data_docs/local_site/index.html"), None)
    return QualityResult(
        success=not failed,
        failed_expectations=failed,
        statistics={"evaluated_expectations": evaluated, "successful_expectations": successful},
        on_failure=on_failure,
        checkpoints=len(results),
        data_docs=str(index) if index else None,
    )


def _describe(config) -> str:
    column = config.kwargs.get("column")
    return f"{config.type}({column})" if column else config.type


def near_duplicates(
    rows: list[CatalogRow], known: list[tuple[str, str, str]]
) -> list[NearDuplicate]:
    """Pairs of different files (by sha256) with nearly equal pHashes: within the run, and
    between the run and `known` catalog rows (key, phash, sha256)."""
    # one entry per original: a run with several presets holds each original once per preset
    mine = list(
        dict.fromkeys((r.source_key, r.phash, r.sha256) for r in rows if r.phash and r.sha256)
    )
    if not mine:
        return []
    found = _close_pairs(mine, mine, "run", same_list=True)
    if known:
        found += _close_pairs(mine, known, "catalog", same_list=False)
    return found


def _close_pairs(left, right, where: str, *, same_list: bool) -> list[NearDuplicate]:
    """Pairs (left, right) whose hashes are at most NEAR_DUPLICATE_BITS apart, found through a
    multi-index (pigeonhole) lookup instead of comparing every pair."""
    a = np.array([int(h, 16) for _, h, _ in left], dtype=np.uint64)
    b = np.array([int(h, 16) for _, h, _ in right], dtype=np.uint64)
    index = _block_index(b)
    pairs = []
    for i, value in enumerate(a):
        candidates = _candidates(index, int(value))
        if not candidates:
            continue
        found = np.fromiter(candidates, dtype=np.int64)
        distance = np.bitwise_count(b[found] ^ value)
        for j, bits in zip(
            found[distance <= NEAR_DUPLICATE_BITS],
            distance[distance <= NEAR_DUPLICATE_BITS],
            strict=True,
        ):
            if (same_list and j <= i) or left[i][2] == right[j][2]:
                continue  # itself, or the very same bytes (exact duplicates fail sha256 unique)
            pairs.append(
                NearDuplicate(key=left[i][0], other=right[j][0], distance=int(bits), where=where)
            )
    return pairs


# Two hashes at most NEAR_DUPLICATE_BITS apart agree exactly on at least one of
# NEAR_DUPLICATE_BITS + 1 disjoint blocks (pigeonhole), so only hashes sharing a block with the
# query are compared: about n * m / 2**9 comparisons for random hashes instead of n * m.
_BLOCKS = NEAR_DUPLICATE_BITS + 1
_EDGES = [round(64 * k / _BLOCKS) for k in range(_BLOCKS + 1)]


def _block_index(hashes: np.ndarray) -> list[dict[int, list[int]]]:
    index: list[dict[int, list[int]]] = [{} for _ in range(_BLOCKS)]
    for block, (low, high) in enumerate(zip(_EDGES, _EDGES[1:], strict=False)):
        values = (hashes >> np.uint64(low)) & np.uint64((1 << (high - low)) - 1)
        table = index[block]
        for position, value in enumerate(values.tolist()):
            table.setdefault(value, []).append(position)
    return index


def _candidates(index: list[dict[int, list[int]]], value: int) -> set[int]:
    found: set[int] = set()
    for block, (low, high) in enumerate(zip(_EDGES, _EDGES[1:], strict=False)):
        found.update(index[block].get((value >> low) & ((1 << (high - low)) - 1), ()))
    return found
