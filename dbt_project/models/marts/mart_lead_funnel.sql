-- The funnel per lead category (the latest score of each person; `unscored` when never scored):
-- people -> talked to us -> paid an order. Counted on golden contacts (deduplicated people).
with people as (
    select
        golden_contact_id,
        max(conversation_count) > 0 as has_conversation,
        sum(paid_order_count) > 0 as has_paid_order,
        sum(lifetime_revenue) as revenue
    from {{ ref('dim_contacts') }}
    group by golden_contact_id
),

latest_score as (
    select distinct on (golden_contact_id) golden_contact_id, lead_category, lead_score
    from {{ ref('fct_leads') }}
    where golden_contact_id is not null
    order by golden_contact_id, classified_at desc, lead_classification_id desc
),

stages as (
    select
        coalesce(latest_score.lead_category, 'unscored') as lead_category,
        latest_score.lead_score,
        people.*
    from people
    left join latest_score on latest_score.golden_contact_id = people.golden_contact_id
)

select
    lead_category,
    case lead_category when 'hot' then 1 when 'warm' then 2 when 'cold' then 3 else 4 end as category_order,
    count(*) as people,
    count(*) filter (where has_conversation) as people_with_conversation,
    count(*) filter (where has_paid_order) as people_with_paid_order,
    round(count(*) filter (where has_paid_order)::numeric / count(*), 4) as conversion_rate,
    round(avg(lead_score)::numeric, 1) as avg_lead_score,
    coalesce(sum(revenue), 0) as revenue
from stages
group by lead_category
