"""The airflow-platform policy pack: `pulumi preview --policy-pack policy
--policy-pack-config <(airflow-platform policy config STACK)`. Every rule lives in
`platform_rules`, which the offline plan runs too."""

from platform_rules.pack import policies
from pulumi_policy import PolicyPack

PolicyPack(name="airflow-platform", policies=policies())
