-- received_at: when the CRM stored the message (the start of the response-time clock for inbound messages);
-- sent_at: the platform's timestamp (seconds resolution for WhatsApp).
select
    id as message_id,
    conversation_id,
    contact_id,
    channel,
    direction,
    message_type,
    text as message_text,
    coalesce(is_echo, false) as is_echo,
    status as delivery_status,
    deleted_at is not null as is_deleted,
    sent_at,
    created_at as received_at,
    coalesce(sent_at, created_at) as occurred_at
from {{ source('crm', 'messages') }}
