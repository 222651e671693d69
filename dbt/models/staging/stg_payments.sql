-- One row per payment, amounts in currency units. Reads the declared source, as a staging model
-- over an extract-load table would. The seed raw_payments loads that table here; the comment
-- below tells dbt so, so that `dbt build` loads the seed before it builds this view.
-- depends_on: {{ ref('raw_payments') }}
select
    id as payment_id,
    order_id,
    payment_method,
    amount / 100.0 as amount
from {{ source('raw', 'raw_payments') }}
