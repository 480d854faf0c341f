-- Daily first response times in seconds (KPI: the bot's p95 below first_response_target_seconds, 3 s).
-- Day = the day of the conversation's first customer message.
with responses as (
    select
        {{ local_date('first_inbound_at') }} as response_date,
        first_responder_type,
        first_response_seconds
    from {{ ref('fct_conversations') }}
    where first_inbound_at is not null
)

select
    response_date,
    count(*) as conversations_with_inbound,
    count(first_response_seconds) as answered_conversations,
    count(*) filter (where first_responder_type = 'bot') as bot_first_responses,
    count(*) filter (where first_responder_type = 'human') as human_first_responses,
    percentile_cont(0.5) within group (order by first_response_seconds) as p50_first_response_seconds,
    percentile_cont(0.95) within group (order by first_response_seconds) as p95_first_response_seconds,
    percentile_cont(0.5) within group (order by first_response_seconds)
        filter (where first_responder_type = 'bot') as p50_bot_first_response_seconds,
    percentile_cont(0.95) within group (order by first_response_seconds)
        filter (where first_responder_type = 'bot') as p95_bot_first_response_seconds,
    max(first_response_seconds) as max_first_response_seconds,
    {{ var('first_response_target_seconds') }}::double precision as target_seconds,
    percentile_cont(0.95) within group (order by first_response_seconds)
        filter (where first_responder_type = 'bot') < {{ var('first_response_target_seconds') }} as meets_target
from responses
group by response_date
