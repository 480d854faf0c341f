-- Message volumes per conversation: what the customer wrote and what we sent, by who sent it.
with messages as (
    select
        conversation_id,
        count(*) filter (where direction = 'inbound' and not is_echo) as inbound_message_count,
        count(*) filter (where direction = 'outbound') as outbound_message_count,
        min(occurred_at) as first_message_at,
        max(occurred_at) as last_message_at
    from {{ ref('stg_crm__messages') }}
    where conversation_id is not null
    group by conversation_id
),

sent as (
    select
        conversation_id,
        count(*) filter (where sender_type = 'bot' and purpose = 'reply') as bot_reply_count,
        count(*) filter (where sender_type = 'human') as human_reply_count,
        count(*) filter (where purpose = 'handoff') as handoff_message_count
    from {{ ref('stg_crm__outbound_messages') }}
    where conversation_id is not null and status = 'sent'
    group by conversation_id
)

select
    coalesce(messages.conversation_id, sent.conversation_id) as conversation_id,
    coalesce(messages.inbound_message_count, 0) as inbound_message_count,
    coalesce(messages.outbound_message_count, 0) as outbound_message_count,
    coalesce(sent.bot_reply_count, 0) as bot_reply_count,
    coalesce(sent.human_reply_count, 0) as human_reply_count,
    coalesce(sent.handoff_message_count, 0) as handoff_message_count,
    messages.first_message_at,
    messages.last_message_at
from messages
full outer join sent on sent.conversation_id = messages.conversation_id
