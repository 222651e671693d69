"""The plan's cost estimate: what to price (`items`), the price table those prices are kept in
(`table`), how it is regenerated from the AWS Price List API (`refresh`), and the monthly cost
of each declared resource (`model`, with its usage assumptions in `assumptions`).

No price is typed by hand: every price in a table comes from `pricing:GetProducts`, with the
filters, SKU and offer term it was read from (docs/plan.md, "Estimated cost").
"""
