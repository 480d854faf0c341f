select
    id as agent_id,
    name as agent_name,
    department,
    capacity,
    coalesce(available, false) as is_available,
    last_assigned_at,
    created_at
from {{ source('crm', 'agents') }}
