select
    id as ticket_id,
    conversation_id,
    contact_id,
    agent_id,
    trigger_message_id,
    department,
    priority,
    reasons,
    case when jsonb_typeof(reasons) = 'array' then jsonb_array_length(reasons) else 0 end as reason_count,
    status,
    created_at,
    assigned_at,
    resolved_at,
    updated_at
from {{ source('crm', 'tickets') }}
