select
    id as contact_identity_id,
    contact_id,
    channel,
    kind as identity_kind,
    external_id,
    account_external_id,
    created_at,
    last_seen_at
from {{ source('crm', 'contact_identities') }}
