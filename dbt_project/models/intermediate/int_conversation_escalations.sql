-- Tickets per conversation: a conversation with at least one ticket was escalated to a human.
with ranked as (
    select
        *,
        row_number() over (partition by conversation_id order by created_at, ticket_id) as ticket_rank
    from {{ ref('stg_crm__tickets') }}
)

select
    conversation_id,
    count(*) as ticket_count,
    min(created_at) as first_escalated_at,
    max(ticket_id) filter (where ticket_rank = 1) as first_ticket_id,
    max(department) filter (where ticket_rank = 1) as first_ticket_department,
    max(priority) filter (where ticket_rank = 1) as first_ticket_priority,
    max(agent_id) filter (where ticket_rank = 1) as first_ticket_agent_id
from ranked
group by conversation_id
