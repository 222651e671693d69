-- One row per customer: order history, lifetime value and the current status (the open row of
-- the customer_status_history snapshot).
with customer_order_stats as (
    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as most_recent_order_date,
        count(*) as number_of_orders,
        sum(amount) as lifetime_value
    from {{ ref('orders') }}
    group by customer_id
),

current_status as (
    select customer_id, status
    from {{ ref('customer_status_history') }}
    where dbt_valid_to is null
)

select
    customers.customer_id,
    customers.first_name,
    customers.last_name,
    current_status.status,
    stats.first_order_date,
    stats.most_recent_order_date,
    coalesce(stats.number_of_orders, 0) as number_of_orders,
    coalesce(stats.lifetime_value, 0) as lifetime_value
from {{ ref('stg_customers') }} as customers
left join customer_order_stats as stats on stats.customer_id = customers.customer_id
left join current_status on current_status.customer_id = customers.customer_id
