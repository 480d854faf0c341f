-- One row per published post and channel: post -> customer comments -> what the auto-responder did -> DMs ->
-- leads -> paid orders and revenue (definitions in int_comment_outcomes and _marts__models.yml). Deleted comments
-- leave the funnel and are only counted in deleted_comments.
with publications as (
    select
        publications.publication_id,
        publications.post_id,
        publications.channel,
        publications.account_external_id,
        publications.post_external_id,
        coalesce(publications.published_at, posts.published_at) as published_at,
        posts.source,
        posts.language,
        posts.product_count
    from {{ ref('stg_crm__content_publications') }} as publications
    inner join {{ ref('stg_crm__content_posts') }} as posts on posts.post_id = publications.post_id
    where publications.status = 'published'
),

comments as (
    select * from {{ ref('int_comment_outcomes') }} where not is_deleted
),

deleted as (
    select publication_id, count(*) as deleted_comments
    from {{ ref('int_comment_outcomes') }}
    where is_deleted
    group by publication_id
),

funnel as (
    select
        publication_id,
        count(*) as comments,
        count(distinct commenter_key) as commenters,
        count(*) filter (where is_action_done and action = 'public_reply') as public_replies,
        count(*) filter (where is_action_done and action = 'private_reply') as private_replies,
        count(*) filter (where is_action_done and action = 'hide') as hidden,
        count(*) filter (where is_action_done and action = 'escalate') as escalated,
        count(*) filter (where is_answered_in_dm) as dms,
        count(distinct commenter_key) filter (where is_lead) as leads,
        sum(attributed_orders)::bigint as orders,
        sum(attributed_revenue) as revenue
    from comments
    group by publication_id
)

select
    publications.post_id,
    publications.channel,
    publications.account_external_id,
    publications.post_external_id as external_id,
    publications.published_at,
    {{ local_date('publications.published_at') }} as published_date,
    publications.source,
    publications.language,
    publications.product_count,
    coalesce(funnel.comments, 0) as comments,
    coalesce(deleted.deleted_comments, 0) as deleted_comments,
    coalesce(funnel.commenters, 0) as commenters,
    coalesce(funnel.public_replies, 0) as public_replies,
    coalesce(funnel.private_replies, 0) as private_replies,
    coalesce(funnel.hidden, 0) as hidden,
    coalesce(funnel.escalated, 0) as escalated,
    coalesce(funnel.dms, 0) as dms,
    coalesce(funnel.leads, 0) as leads,
    coalesce(funnel.orders, 0) as orders,
    coalesce(funnel.revenue, 0) as revenue,
    round(funnel.dms::numeric / nullif(funnel.comments, 0), 4) as comment_to_dm_rate,
    round(funnel.orders::numeric / nullif(funnel.comments, 0), 4) as comment_to_order_rate
from publications
left join funnel on funnel.publication_id = publications.publication_id
left join deleted on deleted.publication_id = publications.publication_id
