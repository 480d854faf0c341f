-- One row per conversation: how fast it was first answered and by whom, whether a human was needed, how it ended.
--   is_escalated: the conversation has at least one ticket.
--   is_resolved_autonomously: resolved or closed, the bot replied, no ticket and no human agent message.
with conversations as (
    select * from {{ ref('stg_crm__conversations') }}
),

first_responses as (
    select * from {{ ref('int_conversation_first_responses') }}
),

escalations as (
    select * from {{ ref('int_conversation_escalations') }}
),

activity as (
    select * from {{ ref('int_conversation_activity') }}
),

joined as (
    select
        conversations.conversation_id,
        conversations.contact_id,
        golden.golden_contact_id,
        conversations.channel,
        conversations.status,
        conversations.close_reason,
        conversations.route,
        conversations.last_intent,
        conversations.is_bot_paused,
        conversations.bot_failures,
        conversations.csat_score,
        conversations.avg_sentiment,
        coalesce(activity.inbound_message_count, 0) as inbound_message_count,
        coalesce(activity.outbound_message_count, 0) as outbound_message_count,
        coalesce(activity.bot_reply_count, 0) as bot_reply_count,
        coalesce(activity.human_reply_count, 0) as human_reply_count,
        first_responses.first_inbound_message_id,
        first_responses.first_inbound_at,
        first_responses.first_response_at,
        first_responses.first_response_seconds,
        first_responses.first_responder_type,
        first_responses.first_response_purpose,
        coalesce(escalations.ticket_count, 0) as ticket_count,
        escalations.first_escalated_at,
        escalations.first_ticket_id,
        escalations.first_ticket_department,
        escalations.first_ticket_agent_id,
        conversations.created_at,
        conversations.resolved_at,
        conversations.closed_at
    from conversations
    left join first_responses on first_responses.conversation_id = conversations.conversation_id
    left join escalations on escalations.conversation_id = conversations.conversation_id
    left join activity on activity.conversation_id = conversations.conversation_id
    left join {{ ref('int_contact_golden_ids') }} as golden on golden.contact_id = conversations.contact_id
)

select
    *,
    {{ local_date('created_at') }} as conversation_date,
    bot_reply_count > 0 as has_bot_reply,
    ticket_count > 0 as is_escalated,
    status in ('resolved', 'closed') as is_finished,
    status in ('resolved', 'closed') and bot_reply_count > 0 and ticket_count = 0 and human_reply_count = 0
        as is_resolved_autonomously,
    {{ seconds_between('created_at', 'coalesce(resolved_at, closed_at)') }} as seconds_to_resolution
from joined
