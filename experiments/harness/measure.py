"""One measurement, in the subprocess the sweep started for it."""

from __future__ import annotations

import json
import sys
from typing import Any

from harness.workload import RunConfig, Workload

# The line of a measurement's stdout that carries its result.
RESULT_PREFIX = "BOC-RESULT "


def run_one(workload: Workload, spec_json: str) -> None:
    """Warm up, measure once, and print the result line.

    ``spec_json`` holds ``scheduler``, ``executor``, ``workers``, ``params``
    and ``warmup_params``. The warm-up is a whole run of its own (start to
    wait), so the measured run's statistics cover only itself.
    """
    spec = json.loads(spec_json)
    config = RunConfig(spec["scheduler"], spec["executor"], spec["workers"])
    if spec.get("warmup_params"):
        workload.measure(config, spec["warmup_params"])
    result = workload.measure(config, spec["params"])
    report = result.pop("report", None)
    if report is not None:
        result["stats"] = report.stats
        result["options"] = report.options
    if result["items"] != result["expected"]:
        print(f"count check failed: {result['items']} ran, {result['expected']} expected", file=sys.stderr)
        sys.exit(3)
    print(RESULT_PREFIX + json.dumps(result, default=_plain), flush=True)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
