-- One row per day and channel: message volumes, conversations, escalations, orders and revenue.
-- Orders without a channel (pushed by a shop, no conversation) are reported under `unknown`.
with messages as (
    select
        message_date as metric_date,
        channel,
        count(*) filter (where direction = 'inbound') as inbound_messages,
        count(*) filter (where direction = 'outbound') as outbound_messages,
        count(*) filter (where sender_type = 'bot') as bot_messages,
        count(*) filter (where sender_type = 'human') as human_messages,
        count(distinct golden_contact_id) filter (where direction = 'inbound') as active_contacts
    from {{ ref('fct_messages') }}
    group by 1, 2
),

conversations as (
    select
        conversation_date as metric_date,
        channel,
        count(*) as conversations_started,
        count(*) filter (where is_escalated) as conversations_escalated,
        count(*) filter (where is_resolved_autonomously) as conversations_resolved_autonomously
    from {{ ref('fct_conversations') }}
    group by 1, 2
),

orders as (
    select
        orders.order_date as metric_date,
        coalesce(orders.channel, conversations.channel, 'unknown') as channel,
        count(*) as orders,
        count(*) filter (where orders.is_paid) as paid_orders,
        sum(orders.paid_revenue) as paid_revenue
    from {{ ref('fct_orders') }} as orders
    left join {{ ref('stg_crm__conversations') }} as conversations
        on conversations.conversation_id = orders.conversation_id
    group by 1, 2
),

spine as (
    select metric_date, channel from messages
    union
    select metric_date, channel from conversations
    union
    select metric_date, channel from orders
)

select
    spine.metric_date,
    spine.channel,
    coalesce(messages.inbound_messages, 0) as inbound_messages,
    coalesce(messages.outbound_messages, 0) as outbound_messages,
    coalesce(messages.bot_messages, 0) as bot_messages,
    coalesce(messages.human_messages, 0) as human_messages,
    coalesce(messages.active_contacts, 0) as active_contacts,
    coalesce(conversations.conversations_started, 0) as conversations_started,
    coalesce(conversations.conversations_escalated, 0) as conversations_escalated,
    coalesce(conversations.conversations_resolved_autonomously, 0) as conversations_resolved_autonomously,
    coalesce(orders.orders, 0) as orders,
    coalesce(orders.paid_orders, 0) as paid_orders,
    coalesce(orders.paid_revenue, 0) as paid_revenue
from spine
left join messages on messages.metric_date = spine.metric_date and messages.channel = spine.channel
left join conversations on conversations.metric_date = spine.metric_date and conversations.channel = spine.channel
left join orders on orders.metric_date = spine.metric_date and orders.channel = spine.channel
