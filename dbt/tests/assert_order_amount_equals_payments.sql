-- Every order's amount in the mart equals the sum of its payments: the join and the pivot by
-- payment method neither drop nor double count a payment. Rows returned are failures.
with paid as (
    select order_id, sum(amount) as amount
    from {{ ref('stg_payments') }}
    group by order_id
)

select orders.order_id, orders.amount, paid.amount as paid_amount
from {{ ref('orders') }} as orders
left join paid on paid.order_id = orders.order_id
where orders.amount <> coalesce(paid.amount, 0)
   or orders.amount <> orders.credit_card_amount + orders.coupon_amount
       + orders.bank_transfer_amount + orders.gift_card_amount
