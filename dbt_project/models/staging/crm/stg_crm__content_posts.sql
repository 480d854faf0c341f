-- One row per post of the content calendar (flows 14-16), whatever its state; channels and product_ids stay
-- jsonb arrays (`product_count` says how many catalog products the post promotes).
select
    id as post_id,
    body,
    media_url,
    channels,
    status,
    source,
    language,
    product_ids,
    coalesce(jsonb_array_length(product_ids), 0) as product_count,
    generation_key,
    external_ids,
    last_error,
    approved_by,
    approved_at,
    scheduled_at,
    published_at,
    created_at,
    updated_at
from {{ source('crm', 'content_posts') }}
