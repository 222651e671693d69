-- The type-2 history has exactly one open row (dbt_valid_to null) per customer.
select customer_id, count(*) as open_rows
from {{ ref('customer_status_history') }}
where dbt_valid_to is null
group by customer_id
having count(*) <> 1
