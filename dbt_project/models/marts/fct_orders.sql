-- One row per order, with its lines summed and whether it came out of a conversation.
with lines as (
    select
        order_id,
        count(*) as line_count,
        coalesce(sum(quantity), 0) as item_quantity
    from {{ ref('stg_crm__order_lines') }}
    group by order_id
)

select
    orders.order_id,
    orders.order_number,
    orders.contact_id,
    golden.golden_contact_id,
    orders.conversation_id,
    orders.conversation_id is not null or orders.source = 'chat' as is_from_conversation,
    orders.channel,
    orders.source,
    orders.status,
    orders.is_paid,
    orders.currency,
    orders.subtotal,
    orders.shipping_cost,
    orders.total,
    case when orders.is_paid then orders.total else 0 end as paid_revenue,
    coalesce(lines.line_count, 0) as line_count,
    coalesce(lines.item_quantity, 0) as item_quantity,
    orders.shipping_method,
    orders.shipping_city,
    orders.placed_at,
    orders.created_at,
    orders.ordered_at,
    {{ local_date('orders.ordered_at') }} as order_date
from {{ ref('stg_crm__orders') }} as orders
left join lines on lines.order_id = orders.order_id
left join {{ ref('int_contact_golden_ids') }} as golden on golden.contact_id = orders.contact_id
