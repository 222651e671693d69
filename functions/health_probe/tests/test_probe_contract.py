"""The probe's side of the metric contract agrees with the code on the other side: the names
the backup and the restore drill publish, Airflow's own component names, and the standard
library and boto3 being all the package imports."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import health_probe
from health_probe import metrics as m

from platform_ops.backup import metrics as backup


def test_the_freshness_check_reads_the_names_the_backup_and_the_drill_publish() -> None:
    assert m.BACKUPS_NAMESPACE == backup.NAMESPACE
    assert m.LAST_SUCCESS_TIMESTAMP == backup.LAST_SUCCESS_TIMESTAMP
    assert m.RESTORE_DRILL_LAST_SUCCESS_TIMESTAMP == backup.RESTORE_DRILL_LAST_SUCCESS_TIMESTAMP
    assert [d["Name"] for d in backup.dimensions("airflow", "dev")] == [m.STACK, m.DATABASE]
    assert m.FRESHNESS_LOOKBACK_HOURS == 14 * 24


def test_the_components_are_those_of_the_pinned_airflows_health_answer() -> None:
    # Read from the installed source rather than imported: importing Airflow would set up
    # its configuration (and a home folder) in this process.
    spec = importlib.util.find_spec("airflow")
    assert spec is not None
    assert spec.submodule_search_locations
    airflow = Path(spec.submodule_search_locations[0])
    health = ast.parse((airflow / "api/common/airflow_health.py").read_text())
    [answer] = [
        node.value
        for node in ast.walk(health)
        if isinstance(node, ast.Assign)
        and any(getattr(t, "id", None) == "airflow_health_status" for t in node.targets)
    ]
    assert isinstance(answer, ast.Dict)
    assert tuple(ast.literal_eval(key) for key in answer.keys if key is not None) == m.COMPONENTS
    for key, section in zip(answer.keys, answer.values, strict=True):
        assert isinstance(section, ast.Dict)
        fields = {ast.literal_eval(k) for k in section.keys if k is not None}
        component = ast.literal_eval(key) if key is not None else None
        expected = {"status"} | (
            {f"latest_{component}_heartbeat"} if component in m.HEARTBEAT_COMPONENTS else set()
        )
        assert fields == expected, component


def test_the_package_imports_the_standard_library_and_boto3_only() -> None:
    allowed = set(sys.stdlib_module_names) | {"boto3", "botocore", "health_probe"}
    imported: dict[str, set[str]] = {}
    for path in sorted(Path(health_probe.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                imported.setdefault(name.split(".")[0], set()).add(Path(path).name)
    assert set(imported) - allowed == set(), imported
