"""The health probe: a Lambda function that measures Airflow from outside and publishes
CloudWatch metrics.

Two checks, chosen by the event (`handler.handler`):

* `{"check": "health"}` (or `{}`, any event without `check`): read Airflow's own health
  endpoint (`GET /api/v2/monitor/health`, no auth) through MWAA's InvokeRestApi or plain
  HTTP(S), and publish `Healthy` per component, `HeartbeatAgeSeconds`, `ApiReachable` and
  `ProbeLatencyMilliseconds`.
* `{"check": "freshness"}`: read the newest backup and restore-drill success timestamps from
  CloudWatch and publish their ages in hours, because an alarm cannot look back past seven
  days and the restore drill is weekly.

The package imports the standard library and boto3/botocore only: what the Lambda
python3.12 runtime provides, so the deployment zip (`package.build_zip`) holds this folder
and nothing else. The CLI (`airflow-platform health`) imports `health` and `transports`, and
the infrastructure's alarms import the names in `metrics`, so no name is typed twice.
"""
