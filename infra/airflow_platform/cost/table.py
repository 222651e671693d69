"""The price table: the JSON file `prices refresh` writes and the plan reads, checked against
its schema on every load.

```
{
  "schema": "airflow-platform/price-table/v1",
  "currency": "USD",
  "pricesAsOf": "2026-12-01",             # the day refresh read the prices (UTC)
  "source": "AWS Price List Query API (pricing:GetProducts)",
  "endpoint": "https://api.pricing.us-east-1.amazonaws.com",
  "regions": ["eu-west-1", "us-east-1"],
  "prices": [{
    "key": "ec2.nat-gateway.hours",       # a key of cost/items.py PRICE_ITEMS
    "region": "eu-west-1",
    "serviceCode": "AmazonEC2",
    "filters": [{"Type": "TERM_MATCH", "Field": "productFamily", "Value": "NAT Gateway"},
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"}],
    "usageType": "EU-NatGateway-Hours",   # the product's usagetype
    "attributes": {},                     # product attributes the model reads (vcpu)
    "sku": "...", "offerTermCode": "JRTCKXETXF", "rateCode": "....JRTCKXETXF.6YS6EN2CT7",
    "description": "...",                 # the price dimension's own description
    "unit": "Hrs", "usd": 0.048, "beginRange": 0,
    "matchedProducts": 1,                 # products in the answer that carried this price
    "effectiveDate": "...", "publicationDate": "...",
    "fetched": "2026-12-01"
  }],
  "unresolved": [{"key": ..., "region": ..., "reason": ...}]   # only from --allow-unresolved
}
```

A table that does not match is refused with every problem named (`PriceTableError`), never
read in part: a plan priced from a broken table would look right and be wrong.
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from airflow_platform.cost.items import PRICE_ITEMS

SCHEMA = "airflow-platform/price-table/v1"
DEFAULT_TABLE = Path(__file__).with_name("prices.json")
"""Where the committed table lives, and where `prices refresh` writes by default."""
REFRESH_HINT = "run `airflow-platform prices refresh` with AWS credentials"


class PriceTableError(Exception):
    """A price table that cannot be used; the message names the file and every problem."""


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class Filter(BaseModel):
    """One GetProducts filter, exactly as sent (the API's member names: Type, Field, Value)."""

    model_config = ConfigDict(
        alias_generator=str.title, populate_by_name=True, extra="forbid", frozen=True
    )
    type: Literal["TERM_MATCH"]
    field: str = Field(min_length=1)
    value: str


class Price(_Model):
    """One price and the Price List answer it was read from."""

    key: str
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    service_code: str = Field(min_length=1)
    filters: list[Filter]
    usage_type: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    sku: str = Field(min_length=1)
    offer_term_code: str = Field(min_length=1)
    rate_code: str = Field(min_length=1)
    description: str
    unit: str = Field(min_length=1)
    usd: float = Field(ge=0)
    begin_range: float = Field(ge=0)
    matched_products: int = Field(ge=1)
    effective_date: str
    publication_date: str | None = None
    fetched: date

    @field_validator("usd")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number of dollars")
        return value

    @model_validator(mode="after")
    def _as_its_item_says(self) -> Price:
        item = PRICE_ITEMS.get(self.key)
        if item is None:
            raise ValueError(
                f"unknown price key {self.key!r}: not an item of "
                f"airflow_platform/cost/items.py ({REFRESH_HINT} to rewrite the table)"
            )
        if self.service_code != item.service_code:
            raise ValueError(
                f"{self.key}: serviceCode {self.service_code!r}, but the item prices "
                f"{item.service_code!r}"
            )
        if self.unit not in item.units:
            raise ValueError(
                f"{self.key}: unit {self.unit!r} is not one the item accepts "
                f"({', '.join(item.units)})"
            )
        sent = {(f.field, f.value) for f in self.filters}
        expected = set(item.filters) | ({("regionCode", self.region)} if item.regional else set())
        if sent != expected:
            raise ValueError(
                f"{self.key} in {self.region}: filters {sorted(sent)} are not the item's "
                f"{sorted(expected)}"
            )
        return self


class Unresolved(_Model):
    """An item refresh could not price, and why (written only with --allow-unresolved)."""

    key: str
    region: str
    reason: str = Field(min_length=1)


class PriceTable(_Model):
    """The whole table."""

    schema_: Literal["airflow-platform/price-table/v1"] = Field(alias="schema")
    currency: Literal["USD"]
    prices_as_of: date
    source: str = Field(min_length=1)
    endpoint: str = Field(min_length=1)
    regions: list[str] = Field(min_length=1)
    prices: list[Price]
    unresolved: list[Unresolved] = Field(default_factory=list)
    _by_key: dict[tuple[str, str], Price] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> PriceTable:
        seen: set[tuple[str, str]] = set()
        for price in self.prices:
            where = (price.key, price.region)
            if where in seen:
                raise ValueError(f"two prices for {price.key} in {price.region}")
            seen.add(where)
            if price.region not in self.regions:
                raise ValueError(
                    f"{price.key} is priced in {price.region}, which regions does not list"
                )
        return self

    def price(self, key: str, region: str) -> Price | None:
        """The price of `key` in `region`, or None when the table has none."""
        return self._index().get((key, region))

    def why_missing(self, key: str, region: str) -> str:
        """Why the table has no price for `key` in `region`, for the plan's unpriced list."""
        for entry in self.unresolved:
            if entry.key == key and entry.region == region:
                return f"{key} in {region} was not resolved by the last refresh: {entry.reason}"
        if region not in self.regions:
            return (
                f"the price table covers {', '.join(self.regions)}, not {region} "
                f"({REFRESH_HINT} --region {region})"
            )
        if key not in PRICE_ITEMS:
            return f"no price item {key} in airflow_platform/cost/items.py"
        return f"the price table has no {key} in {region} ({REFRESH_HINT})"

    def _index(self) -> dict[tuple[str, str], Price]:
        # Built once per table (the model is frozen, so the cache cannot go stale).
        if self._by_key is None:
            self._by_key = {(p.key, p.region): p for p in self.prices}
        return self._by_key


def _problems(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem["loc"]
        ).lstrip(".")
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(lines)


def parse_table(data: Any, where: str = "the price table") -> PriceTable:
    """`data` (the JSON document) as a PriceTable; PriceTableError naming every problem."""
    try:
        return PriceTable.model_validate(data)
    except ValidationError as error:
        raise PriceTableError(
            f"{where} is not a valid price table ({SCHEMA}): {_problems(error)}; "
            f"{REFRESH_HINT} to rewrite it"
        ) from None


def load_table(path: Path) -> PriceTable:
    """Read and check the table at `path`; PriceTableError says what is wrong."""
    try:
        text = path.read_text()
    except OSError as error:
        raise PriceTableError(f"cannot read the price table {path}: {error.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise PriceTableError(
            f"the price table {path} is not JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg}); {REFRESH_HINT} to rewrite it"
        ) from None
    return parse_table(data, f"the price table {path}")


def dump_table(table: PriceTable) -> str:
    """The table as written to disk: stable order, so a refresh diff shows what changed."""
    data = table.model_dump(mode="json", by_alias=True)
    data["prices"].sort(key=lambda p: (p["region"], p["key"]))
    data["unresolved"].sort(key=lambda u: (u["region"], u["key"]))
    return json.dumps(data, indent=2) + "\n"
