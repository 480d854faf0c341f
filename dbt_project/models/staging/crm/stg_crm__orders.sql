select
    id as order_id,
    order_number,
    external_id,
    source,
    contact_id,
    conversation_id,
    channel,
    status,
    -- Money counts once the order is paid (and stays counted when it ships or arrives).
    status in ('paid', 'shipped', 'delivered') as is_paid,
    currency,
    subtotal,
    shipping_cost,
    total,
    shipping_method,
    shipping_city,
    placed_at,
    created_at,
    coalesce(placed_at, created_at) as ordered_at,
    updated_at
from {{ source('crm', 'orders') }}
