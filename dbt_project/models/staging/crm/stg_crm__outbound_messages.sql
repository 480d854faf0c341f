-- The idempotency key's prefix says why the message went out and who wrote it.
with outbox as (
    select *, split_part(idempotency_key, ':', 1) as key_prefix
    from {{ source('crm', 'outbound_messages') }}
)

select
    id as outbound_message_id,
    idempotency_key,
    case when key_prefix in ('reply', 'agent', 'handoff', 'csat') then key_prefix else 'other' end as purpose,
    case
        when key_prefix in ('reply', 'handoff', 'csat') then 'bot'
        when key_prefix = 'agent' then 'human'
        else 'automation'
    end as sender_type,
    -- A direct answer to the customer (what the first response time measures); CSAT surveys are not.
    key_prefix in ('reply', 'agent', 'handoff') as is_direct_answer,
    conversation_id,
    contact_id,
    in_reply_to_message_id,
    message_id,
    channel,
    kind as message_kind,
    status,
    coalesce(attempts, 0) as attempts,
    error_code,
    created_at,
    sending_started_at,
    sent_at
from outbox
