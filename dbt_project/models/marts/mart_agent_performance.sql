-- One row per human agent: tickets they took, how fast they were assigned and resolved, and the CSAT of
-- the conversations behind them.
with tickets as (
    select
        tickets.*,
        conversations.csat_score
    from {{ ref('stg_crm__tickets') }} as tickets
    left join {{ ref('stg_crm__conversations') }} as conversations
        on conversations.conversation_id = tickets.conversation_id
    where tickets.agent_id is not null
),

per_agent as (
    select
        agent_id,
        count(*) as tickets_assigned,
        count(*) filter (where status in ('resolved', 'closed')) as tickets_finished,
        count(*) filter (where status in ('open', 'assigned')) as tickets_live,
        percentile_cont(0.5) within group (
            order by {{ seconds_between('created_at', 'assigned_at') }}) as p50_seconds_to_assign,
        percentile_cont(0.5) within group (
            order by {{ seconds_between('created_at', 'resolved_at') }}) as p50_seconds_to_resolve,
        round(avg(csat_score)::numeric, 2) as avg_csat_score,
        count(csat_score) as rated_tickets
    from tickets
    group by agent_id
)

select
    agents.agent_id,
    agents.agent_name,
    agents.department,
    agents.capacity,
    agents.is_available,
    coalesce(per_agent.tickets_assigned, 0) as tickets_assigned,
    coalesce(per_agent.tickets_finished, 0) as tickets_finished,
    coalesce(per_agent.tickets_live, 0) as tickets_live,
    per_agent.p50_seconds_to_assign,
    per_agent.p50_seconds_to_resolve,
    per_agent.avg_csat_score,
    coalesce(per_agent.rated_tickets, 0) as rated_tickets
from {{ ref('stg_crm__agents') }} as agents
left join per_agent on per_agent.agent_id = agents.agent_id
