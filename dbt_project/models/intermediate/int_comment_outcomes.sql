-- One row per customer comment on one of our published posts (a publication: post x channel), with what the
-- auto-responder did, whether a DM followed, whether the commenter became a lead and the paid orders it earned.
--   customer comment: kind `comment` with an id, on a published publication's post id (same channel), not written
--     by the account itself (our replies); counted once however many verbs (add, edited, hide...) Meta sent;
--     is_deleted when one of them is `remove`.
--   dm: the private reply's DM conversation got an inbound message after the reply was sent (done_at).
--   lead: the comment scored 50+ (warm or hot) by the NLU, or the commenter's golden person classified warm or hot
--     in the 30 days from the comment.
--   orders: paid orders (paid, shipped, delivered) of the commenter's golden person in the 30 days from the
--     comment, each given to one comment only: the latest non-deleted one before it (last touch), so summing
--     orders or revenue over comments or posts counts every order once.
with publications as (
    select publication_id, post_id, channel, account_external_id, post_external_id
    from {{ ref('stg_crm__content_publications') }}
    where status = 'published' and post_external_id is not null
),

comment_rows as (
    select *
    from {{ ref('stg_crm__social_comments') }}
    where kind = 'comment' and comment_external_id is not null
),

-- The comment as first seen: its `add` row when there is one, else its earliest row.
first_rows as (
    select distinct on (channel, comment_external_id)
        channel,
        comment_external_id,
        social_comment_id,
        post_external_id,
        parent_external_id,
        account_external_id,
        author_external_id,
        author_name,
        is_own_account,
        contact_id,
        occurred_at as commented_at
    from comment_rows
    order by channel, comment_external_id, (verb = 'add') desc, occurred_at, social_comment_id
),

verbs as (
    select
        channel,
        comment_external_id,
        count(*) as verb_rows,
        bool_or(verb = 'remove') as is_deleted,
        max(post_external_id) as any_post_external_id,
        max(contact_id) as any_contact_id
    from comment_rows
    group by channel, comment_external_id
),

actions as (
    select * from {{ ref('stg_crm__comment_actions') }}
),

comments as (
    select
        publications.publication_id,
        publications.post_id,
        first_rows.channel,
        publications.account_external_id,
        publications.post_external_id,
        first_rows.comment_external_id,
        first_rows.social_comment_id,
        first_rows.parent_external_id,
        first_rows.author_external_id,
        first_rows.author_name,
        first_rows.commented_at,
        verbs.verb_rows,
        verbs.is_deleted,
        coalesce(first_rows.contact_id, verbs.any_contact_id, actions.contact_id) as contact_id,
        actions.comment_action_id,
        actions.action,
        actions.status as action_status,
        coalesce(actions.is_done, false) as is_action_done,
        actions.lead_score as comment_lead_score,
        actions.intent as comment_intent,
        actions.sentiment as comment_sentiment,
        actions.conversation_id,
        actions.done_at as action_done_at
    from first_rows
    inner join verbs
        on verbs.channel = first_rows.channel and verbs.comment_external_id = first_rows.comment_external_id
    inner join publications
        on publications.channel = first_rows.channel
        and publications.post_external_id = coalesce(first_rows.post_external_id, verbs.any_post_external_id)
    left join actions
        on actions.channel = first_rows.channel and actions.comment_external_id = first_rows.comment_external_id
    where not first_rows.is_own_account
        and first_rows.author_external_id is distinct from publications.account_external_id
),

with_golden as (
    select
        comments.*,
        golden.golden_contact_id
    from comments
    left join {{ ref('int_contact_golden_ids') }} as golden on golden.contact_id = comments.contact_id
),

dm_answers as (
    select
        with_golden.channel,
        with_golden.comment_external_id,
        min(messages.occurred_at) as first_dm_at
    from with_golden
    inner join {{ ref('stg_crm__messages') }} as messages
        on messages.conversation_id = with_golden.conversation_id
        and messages.direction = 'inbound'
        and messages.occurred_at > with_golden.action_done_at
    where with_golden.action = 'private_reply' and with_golden.is_action_done
    group by with_golden.channel, with_golden.comment_external_id
),

lead_classifications as (
    select golden.golden_contact_id, classifications.classified_at
    from {{ ref('stg_crm__lead_classifications') }} as classifications
    inner join {{ ref('int_contact_golden_ids') }} as golden on golden.contact_id = classifications.contact_id
    where classifications.lead_category in ('hot', 'warm')
),

classified_leads as (
    select distinct with_golden.channel, with_golden.comment_external_id
    from with_golden
    inner join lead_classifications
        on lead_classifications.golden_contact_id = with_golden.golden_contact_id
        and lead_classifications.classified_at >= with_golden.commented_at
        and lead_classifications.classified_at < with_golden.commented_at + interval '30 days'
),

paid_orders as (
    select orders.order_id, orders.total, orders.ordered_at, golden.golden_contact_id
    from {{ ref('stg_crm__orders') }} as orders
    inner join {{ ref('int_contact_golden_ids') }} as golden on golden.contact_id = orders.contact_id
    where orders.is_paid
),

-- Last touch: each paid order goes to the person's latest non-deleted comment in the 30 days before it.
attributed_orders as (
    select distinct on (paid_orders.order_id)
        paid_orders.order_id,
        paid_orders.total,
        with_golden.channel,
        with_golden.comment_external_id
    from paid_orders
    inner join with_golden
        on with_golden.golden_contact_id = paid_orders.golden_contact_id
        and not with_golden.is_deleted
        and paid_orders.ordered_at >= with_golden.commented_at
        and paid_orders.ordered_at < with_golden.commented_at + interval '30 days'
    order by paid_orders.order_id, with_golden.commented_at desc, with_golden.comment_external_id desc
),

order_totals as (
    select channel, comment_external_id, count(*) as attributed_orders, sum(total) as attributed_revenue
    from attributed_orders
    group by channel, comment_external_id
)

select
    with_golden.publication_id,
    with_golden.post_id,
    with_golden.channel,
    with_golden.account_external_id,
    with_golden.post_external_id,
    with_golden.comment_external_id,
    with_golden.social_comment_id,
    with_golden.parent_external_id,
    with_golden.author_external_id,
    with_golden.author_name,
    with_golden.contact_id,
    with_golden.golden_contact_id,
    -- One key per person: the golden contact, else (not processed yet) the channel's author id.
    coalesce('contact:' || with_golden.golden_contact_id::text,
             'author:' || with_golden.channel || ':' || with_golden.author_external_id) as commenter_key,
    with_golden.commented_at,
    with_golden.verb_rows,
    with_golden.is_deleted,
    with_golden.comment_action_id,
    with_golden.action,
    with_golden.action_status,
    with_golden.is_action_done,
    with_golden.action_done_at,
    with_golden.comment_intent,
    with_golden.comment_sentiment,
    with_golden.comment_lead_score,
    with_golden.conversation_id,
    dm_answers.first_dm_at,
    dm_answers.first_dm_at is not null as is_answered_in_dm,
    coalesce(with_golden.comment_lead_score >= 50, false) or classified_leads.comment_external_id is not null
        as is_lead,
    coalesce(order_totals.attributed_orders, 0) as attributed_orders,
    coalesce(order_totals.attributed_revenue, 0) as attributed_revenue
from with_golden
left join dm_answers
    on dm_answers.channel = with_golden.channel and dm_answers.comment_external_id = with_golden.comment_external_id
left join classified_leads
    on classified_leads.channel = with_golden.channel
    and classified_leads.comment_external_id = with_golden.comment_external_id
left join order_totals
    on order_totals.channel = with_golden.channel
    and order_totals.comment_external_id = with_golden.comment_external_id
