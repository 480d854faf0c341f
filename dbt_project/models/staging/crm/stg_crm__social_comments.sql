-- One row per comment and verb as Meta's webhooks delivered it (add, edited, remove, hide, unhide), so the same
-- comment can appear several times: count comments on distinct (channel, comment_external_id).
-- is_own_account: written by the page / Instagram account itself (our replies), not by a customer.
select
    id as social_comment_id,
    channel,
    dedup_key,
    external_id as comment_external_id,
    kind,
    verb,
    post_external_id,
    parent_external_id,
    account_external_id,
    author_external_id,
    author_name,
    text as comment_text,
    coalesce(author_external_id = account_external_id, false) as is_own_account,
    contact_id,
    created_time,
    created_at as received_at,
    coalesce(created_time, created_at) as occurred_at,
    processed_at
from {{ source('crm', 'social_comments') }}
