select
    id as order_line_id,
    order_id,
    product_id,
    sku,
    name as product_name,
    quantity,
    unit_price,
    line_total
from {{ source('crm', 'order_lines') }}
