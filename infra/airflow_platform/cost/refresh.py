"""Regenerate the price table from the AWS Price List Query API.

For each region and each `PriceItem` (cost/items.py, whose docstring says how one product
and one price dimension are picked), one paginated `pricing:GetProducts` call with the item's
TERM_MATCH filters, `FormatVersion=aws_v1`. The API is served from us-east-1 (its endpoints:
https://api.pricing.us-east-1.amazonaws.com and ap-south-1; the SDKs' Pricing client docs),
whichever region is being priced; `AWS_ENDPOINT_URL_PRICING` points botocore elsewhere (the
tests' stand-in on loopback).

Each `PriceList` entry is one product as a JSON string: `{"product": {"productFamily",
"attributes": {..., "usagetype", "regionCode"}, "sku"}, "serviceCode", "terms": {"OnDemand":
{"<sku>.<offerTermCode>": {"priceDimensions": {"<rateCode>": {"unit", "beginRange",
"endRange", "description", "pricePerUnit": {"USD": "0.1380000000"}, "rateCode"}}, "sku",
"effectiveDate", "offerTermCode"}}}, "version", "publicationDate"}` (the shape of AWS's own
example answers: botocore data/pricing/2017-10-15/examples-1.json and aws/aws-cli
awscli/examples/pricing/get-products.rst).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from airflow_platform.cost.items import PRICE_ITEMS, PriceItem
from airflow_platform.cost.table import SCHEMA, Price, PriceTable, Unresolved

PRICING_REGION = "us-east-1"
"""The Price List API's region, whatever region is priced."""
SOURCE = "AWS Price List Query API (pricing:GetProducts, FormatVersion aws_v1, OnDemand terms)"
# A usage type's region prefix: a short code (EU, EUC1, USE1, CAN1, APS3) or, for KMS, the
# region itself (eu-west-1-KMS-Keys). us-east-1 products may have no prefix at all.
_PREFIX = r"(?:[A-Z]{2,4}\d?|[a-z]{2}(?:-[a-z]+)+-\d)"
# Client errors that concern one query (a service code or filter the API does not know),
# not the whole refresh.
_ITEM_ERRORS = {"NotFoundException", "InvalidParameterException"}
_SHOWN_CANDIDATES = 5


class RefreshError(Exception):
    """The Price List API could not be read at all (access, network, throttling)."""


@dataclass(frozen=True)
class RefreshResult:
    table: PriceTable
    unresolved: list[Unresolved]


def usage_type_matches(usage_type: str, name: str) -> bool:
    """Whether the product usage type `usage_type` is `name` after a region prefix."""
    return re.fullmatch(rf"(?:{_PREFIX}-)?{re.escape(name)}", usage_type) is not None


def request_filters(item: PriceItem, region: str) -> list[dict[str, str]]:
    """The GetProducts `Filters` for `item` in `region`, exactly as sent and recorded."""
    pairs = list(item.filters)
    if item.regional:
        pairs.append(("regionCode", region))
    return [{"Type": "TERM_MATCH", "Field": name, "Value": value} for name, value in pairs]


def fetch_products(client: Any, service_code: str, filters: list[dict[str, str]]) -> list[dict]:
    """Every product of one GetProducts query, following NextToken, each as a dict."""
    paginator = client.get_paginator("get_products")
    products = []
    pages = paginator.paginate(ServiceCode=service_code, Filters=filters, FormatVersion="aws_v1")
    for page in pages:
        for entry in page.get("PriceList", []):
            # The service model marks each entry as a JSON value: a string on the wire.
            products.append(json.loads(entry) if isinstance(entry, str) else entry)
    return products


@dataclass(frozen=True)
class _Candidate:
    product: dict[str, Any]
    term: dict[str, Any]
    dimension: dict[str, Any]
    usd: float


def _attributes(product: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (product.get("product", {}).get("attributes") or {}).items()}


def _matches(item: PriceItem, product: Mapping[str, Any]) -> bool:
    attributes = _attributes(product)
    if item.usage_type is not None and not usage_type_matches(
        attributes.get("usagetype", ""), item.usage_type
    ):
        return False
    return all(
        attributes.get(name, "").casefold() == value.casefold() for name, value in item.attributes
    )


def _usd(dimension: Mapping[str, Any]) -> float | None:
    try:
        return float(dimension["pricePerUnit"]["USD"])
    except (KeyError, TypeError, ValueError):
        return None


def _candidate(item: PriceItem, product: dict[str, Any]) -> _Candidate | str:
    """The price of one matching product, or why it has none."""
    sku = product.get("product", {}).get("sku", "?")
    terms = list((product.get("terms") or {}).get("OnDemand", {}).values())
    if not terms:
        return f"product {sku} has no OnDemand term"
    chosen: list[_Candidate] = []
    for term in terms:
        dimensions = sorted(
            (term.get("priceDimensions") or {}).values(),
            key=lambda d: float(d.get("beginRange") or 0),
        )
        paid = [(d, _usd(d)) for d in dimensions]
        paid = [(d, usd) for d, usd in paid if usd is not None and usd > 0]
        if not paid:
            return f"product {sku} has no price above $0 in its OnDemand term"
        dimension, usd = paid[0]
        if dimension.get("unit") not in item.units:
            return (
                f"product {sku} is priced per {dimension.get('unit')!r}, not per "
                f"{item.unit} ({', '.join(item.units)})"
            )
        chosen.append(_Candidate(product, term, dimension, usd))
    if len({c.usd for c in chosen}) > 1:
        return f"product {sku} has {len(chosen)} OnDemand terms at different prices"
    return chosen[0]


def pick(
    item: PriceItem, region: str, products: Iterable[dict[str, Any]], fetched: date
) -> Price | str:
    """The one price of `item` among the products of its query, or why there is none."""
    products = list(products)
    matching = [p for p in products if _matches(item, p)]
    if not matching:
        seen = sorted({_attributes(p).get("usagetype", "?") for p in products})
        wanted = [f"usagetype {item.usage_type}"] if item.usage_type else []
        wanted += [f"{name} {value}" for name, value in item.attributes]
        return (
            f"none of the {len(products)} products returned matches "
            f"{', '.join(wanted) or 'the filters'}"
            + (f" (usage types seen: {', '.join(seen[:_SHOWN_CANDIDATES])})" if seen else "")
        )
    candidates = [_candidate(item, p) for p in matching]
    reasons = [c for c in candidates if isinstance(c, str)]
    if reasons:
        return reasons[0]
    found = [c for c in candidates if isinstance(c, _Candidate)]
    if len({c.usd for c in found}) > 1:
        shown = ", ".join(
            f"{c.product['product'].get('sku')} ({_attributes(c.product).get('usagetype')}: "
            f"${c.usd})"
            for c in found[:_SHOWN_CANDIDATES]
        )
        return f"{len(found)} products match at different prices: {shown}"
    best = min(found, key=lambda c: str(c.product["product"].get("sku")))
    attributes = _attributes(best.product)
    missing = [name for name in item.record if name not in attributes]
    if missing:
        return f"product {best.product['product'].get('sku')} has no {', '.join(missing)}"
    return Price(
        key=item.key,
        region=region,
        service_code=item.service_code,
        filters=request_filters(item, region),
        usage_type=attributes.get("usagetype"),
        attributes={name: attributes[name] for name in item.record},
        sku=str(best.product["product"].get("sku")),
        offer_term_code=str(best.term.get("offerTermCode")),
        rate_code=str(best.dimension.get("rateCode")),
        description=str(best.dimension.get("description", "")),
        unit=str(best.dimension.get("unit")),
        usd=best.usd,
        begin_range=float(best.dimension.get("beginRange") or 0),
        matched_products=len(found),
        effective_date=str(best.term.get("effectiveDate", "")),
        publication_date=best.product.get("publicationDate"),
        fetched=fetched,
    )


def refresh(
    client: Any,
    regions: Iterable[str],
    items: Iterable[PriceItem] | None = None,
    today: date | None = None,
) -> RefreshResult:
    """Price every item in every region through `client` (a boto3 `pricing` client).

    Items that cannot be priced are returned as unresolved, with the reason; RefreshError
    when the API itself cannot be read."""
    from botocore.exceptions import BotoCoreError, ClientError

    regions = sorted(set(regions))
    items = list(PRICE_ITEMS.values() if items is None else items)
    fetched = today or datetime.now(UTC).date()
    prices: list[Price] = []
    unresolved: list[Unresolved] = []
    answers: dict[str, list[dict] | str] = {}  # one query per distinct service and filters
    for region in regions:
        for item in items:
            filters = request_filters(item, region)
            query = json.dumps([item.service_code, filters])
            if query not in answers:
                try:
                    answers[query] = fetch_products(client, item.service_code, filters)
                except ClientError as error:
                    code = error.response.get("Error", {}).get("Code", "")
                    if code not in _ITEM_ERRORS:
                        raise RefreshError(f"the Price List API refused: {error}") from None
                    answers[query] = f"the Price List API answered {code}: {error}"
                except BotoCoreError as error:
                    raise RefreshError(f"cannot reach the Price List API: {error}") from None
            answer = answers[query]
            outcome = answer if isinstance(answer, str) else pick(item, region, answer, fetched)
            if isinstance(outcome, Price):
                prices.append(outcome)
            else:
                note = "" if item.verified else " (this item's filters are unverified)"
                unresolved.append(Unresolved(key=item.key, region=region, reason=outcome + note))
    table = PriceTable(
        schema_=SCHEMA,
        currency="USD",
        prices_as_of=fetched,
        source=SOURCE,
        endpoint=str(client.meta.endpoint_url),
        regions=regions,
        prices=prices,
        unresolved=unresolved,
    )
    return RefreshResult(table=table, unresolved=unresolved)


def stack_regions(stacks: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The regions a set of stacks' resources live in, from their config values: each
    stack's aws:region, its backup.replicaRegion when one is configured, and the region of
    the chat alerts' log group (AWS Chatbot logs only to us-east-1; components/alerts.py)."""
    from airflow_platform.components.alerts import CHATBOT_LOG_REGION

    regions = {CHATBOT_LOG_REGION}
    for values in stacks.values():
        if values.get("aws:region"):
            regions.add(str(values["aws:region"]))
        for key, value in values.items():
            if (
                key.endswith(":backup")
                and isinstance(value, Mapping)
                and value.get("replicaRegion")
            ):
                regions.add(str(value["replicaRegion"]))
    return sorted(regions)
