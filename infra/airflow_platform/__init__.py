"""airflow-platform: production Apache Airflow on AWS as Pulumi code."""
