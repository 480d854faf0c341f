-- The first customer message of each conversation and the first direct answer sent after it (bot `reply:` /
-- `handoff:` or human `agent:` outbox rows; CSAT surveys don't count). The clock starts when the CRM stored the
-- inbound message and stops when the answer was handed to the Graph API (outbox sent_at), as the ops summary in
-- serving/services/conversation_stats.py measures it.
with first_inbound as (
    select distinct on (conversation_id)
        conversation_id,
        message_id as first_inbound_message_id,
        received_at as first_inbound_at
    from {{ ref('stg_crm__messages') }}
    where direction = 'inbound' and conversation_id is not null and not is_echo
    order by conversation_id, received_at, message_id
),

answers as (
    select conversation_id, outbound_message_id, sender_type, purpose, sent_at
    from {{ ref('stg_crm__outbound_messages') }}
    where status = 'sent' and sent_at is not null and is_direct_answer and conversation_id is not null
),

first_answer as (
    select distinct on (first_inbound.conversation_id)
        first_inbound.conversation_id,
        answers.outbound_message_id,
        answers.sender_type,
        answers.purpose,
        answers.sent_at
    from first_inbound
    inner join answers
        on answers.conversation_id = first_inbound.conversation_id
        and answers.sent_at >= first_inbound.first_inbound_at
    order by first_inbound.conversation_id, answers.sent_at, answers.outbound_message_id
)

select
    first_inbound.conversation_id,
    first_inbound.first_inbound_message_id,
    first_inbound.first_inbound_at,
    first_answer.outbound_message_id as first_response_outbound_message_id,
    first_answer.sender_type as first_responder_type,
    first_answer.purpose as first_response_purpose,
    first_answer.sent_at as first_response_at,
    {{ seconds_between('first_inbound.first_inbound_at', 'first_answer.sent_at') }} as first_response_seconds
from first_inbound
left join first_answer on first_answer.conversation_id = first_inbound.conversation_id
