-- One row per post and channel (instagram, facebook): the publishing state machine's row. post_external_id is
-- what Meta calls the post (the page post id `<page id>_<post id>`, or the Instagram media id); comments point
-- at it.
select
    id as publication_id,
    post_id,
    channel,
    account_external_id,
    status,
    container_id,
    external_id as post_external_id,
    coalesce(attempts, 0) as attempts,
    last_error,
    started_at,
    next_attempt_at,
    published_at,
    created_at,
    updated_at
from {{ source('crm', 'content_publications') }}
