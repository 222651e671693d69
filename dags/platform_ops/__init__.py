"""The logic of the platform's operational DAGs, importable and unit-tested.

Airflow puts the DAG folder on `sys.path`, so workers import this package from the bundle;
`airflow-platform` (the CLI) installs and imports the same package, so a backup run from a
terminal runs exactly what the DAG runs. Only the standard library and boto3 (present on
MWAA and in the image) are imported here; nothing from the Pulumi program.
"""
