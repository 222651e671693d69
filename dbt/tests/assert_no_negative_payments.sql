-- A payment never has a negative amount (refunds are a separate feed). Rows returned are failures.
select payment_id, amount
from {{ ref('stg_payments') }}
where amount < 0
