"""The per-run Great Expectations suite over the run's catalog rows.

The suite is built from the catalog schema (required columns, their presence) and the run's
limits (pixel bounds, rejected share), so it checks what the schema promises.
"""

from __future__ import annotations

import logging
import os

import pandas as pd

from schemas.catalog import CATALOG_COLUMNS, REQUIRED_COLUMNS, CatalogRow, Outcome
from schemas.run import QualityResult

SUITE_NAME = "packshot-run"


def build_expectations(*, max_pixels: int, max_rejected_share: float) -> list:
    """The run suite's expectations."""
    import great_expectations as gx

    e = gx.expectations
    max_side = max_pixels  # a side can be as long as the pixel budget when the other is 1 px
    return [
        e.ExpectTableColumnsToMatchSet(column_set=list(CATALOG_COLUMNS), exact_match=False),
        *[e.ExpectColumnValuesToNotBeNull(column=name) for name in REQUIRED_COLUMNS],
        e.ExpectColumnValuesToBeInSet(column="status", value_set=[o.value for o in Outcome]),
        e.ExpectColumnValuesToBeUnique(column="sha256"),
        e.ExpectColumnValuesToBeBetween(column="width", min_value=1, max_value=max_side),
        e.ExpectColumnValuesToBeBetween(column="height", min_value=1, max_value=max_side),
        e.ExpectColumnValuesToNotBeInSet(
            column="status", value_set=[Outcome.REJECTED.value], mostly=1.0 - max_rejected_share
        ),
    ]


def check_run(
    rows: list[CatalogRow], *, max_pixels: int, max_rejected_share: float, on_failure: str
) -> QualityResult:
    """Validate the run's rows with Great Expectations; the verdict, never an exception."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    frame = pd.DataFrame([row.model_dump() for row in rows], columns=list(CATALOG_COLUMNS))
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    asset = context.data_sources.add_pandas("run").add_dataframe_asset("rows")
    batch = asset.add_batch_definition_whole_dataframe("all-rows")
    suite = context.suites.add(gx.ExpectationSuite(name=SUITE_NAME))
    for expectation in build_expectations(
        max_pixels=max_pixels, max_rejected_share=max_rejected_share
    ):
        suite.add_expectation(expectation)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=SUITE_NAME, data=batch, suite=suite)
    )
    result = definition.run(batch_parameters={"dataframe": frame})
    failed = [_describe(r.expectation_config) for r in result.results if not r.success]
    return QualityResult(
        success=bool(result.success),
        failed_expectations=failed,
        statistics={k: float(v) for k, v in result.statistics.items() if v is not None},
        on_failure=on_failure,
    )


def _describe(config) -> str:
    column = config.kwargs.get("column")
    return f"{config.type}({column})" if column else config.type
