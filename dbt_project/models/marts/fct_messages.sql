-- One row per message, with who sent it (customer, bot, human agent, automation) and its sentiment when analysed.
with outbox as (
    select message_id, outbound_message_id, purpose, sender_type
    from {{ ref('stg_crm__outbound_messages') }}
    where message_id is not null
),

outbox_by_message as (
    select distinct on (message_id) *
    from outbox
    order by message_id, outbound_message_id
),

sentiment as (
    select distinct on (message_id) message_id, sentiment, sentiment_score, urgency_level, churn_risk
    from {{ ref('stg_crm__sentiment_analyses') }}
    where message_id is not null
    order by message_id, analyzed_at desc, sentiment_analysis_id desc
)

select
    messages.message_id,
    messages.conversation_id,
    messages.contact_id,
    golden.golden_contact_id,
    messages.channel,
    messages.direction,
    case
        when messages.direction = 'inbound' then 'customer'
        when outbox_by_message.sender_type is not null then outbox_by_message.sender_type
        when messages.is_echo then 'human'  -- typed in Meta's own apps (an echo we did not send)
        else 'automation'
    end as sender_type,
    outbox_by_message.purpose as outbound_purpose,
    outbox_by_message.outbound_message_id,
    messages.message_type,
    messages.delivery_status,
    messages.is_echo,
    messages.is_deleted,
    sentiment.sentiment,
    sentiment.sentiment_score,
    sentiment.urgency_level,
    sentiment.churn_risk,
    messages.sent_at,
    messages.received_at,
    messages.occurred_at,
    {{ local_date('messages.occurred_at') }} as message_date
from {{ ref('stg_crm__messages') }} as messages
left join outbox_by_message on outbox_by_message.message_id = messages.message_id
left join sentiment on sentiment.message_id = messages.message_id
left join {{ ref('int_contact_golden_ids') }} as golden on golden.contact_id = messages.contact_id
