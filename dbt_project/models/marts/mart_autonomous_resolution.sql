-- Daily share of conversations the bot resolved alone (KPI: above autonomous_resolution_target, 80 %).
-- Day = the day the conversation started; the share is over every conversation started that day, so
-- conversations still open count against it until they finish.
select
    conversation_date,
    count(*) as conversations,
    count(*) filter (where is_finished) as finished_conversations,
    count(*) filter (where is_resolved_autonomously) as autonomously_resolved_conversations,
    count(*) filter (where is_escalated) as escalated_conversations,
    round(count(*) filter (where is_resolved_autonomously)::numeric / count(*), 4) as autonomous_resolution_share,
    round(count(*) filter (where is_escalated)::numeric / count(*), 4) as escalation_share,
    {{ var('autonomous_resolution_target') }}::numeric as target_share,
    count(*) filter (where is_resolved_autonomously)::numeric / count(*)
        > {{ var('autonomous_resolution_target') }} as meets_target,
    round(avg(csat_score)::numeric, 2) as avg_csat_score,
    round(avg(csat_score) filter (where is_resolved_autonomously)::numeric, 2) as avg_csat_score_autonomous
from {{ ref('fct_conversations') }}
group by conversation_date
