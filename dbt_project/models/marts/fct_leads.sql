-- One row per lead classification (a score the NLU gave a contact), with whether it was the contact's latest
-- and whether the person (golden contact) paid for an order afterwards.
with classifications as (
    select
        classifications.*,
        golden.golden_contact_id,
        row_number() over (
            partition by classifications.contact_id
            order by classifications.classified_at desc, classifications.lead_classification_id desc
        ) = 1 as is_latest_for_contact
    from {{ ref('stg_crm__lead_classifications') }} as classifications
    left join {{ ref('int_contact_golden_ids') }} as golden on golden.contact_id = classifications.contact_id
),

paid_orders as (
    select golden_contact_id, ordered_at, paid_revenue
    from {{ ref('fct_orders') }}
    where is_paid
)

select
    classifications.lead_classification_id,
    classifications.contact_id,
    classifications.golden_contact_id,
    classifications.message_id,
    classifications.lead_score,
    classifications.lead_category,
    classifications.recommended_action,
    classifications.classification_source,
    classifications.model_name,
    classifications.classified_at,
    {{ local_date('classifications.classified_at') }} as classified_date,
    classifications.is_latest_for_contact,
    count(paid_orders.ordered_at) > 0 as converted_after,
    coalesce(sum(paid_orders.paid_revenue), 0) as revenue_after
from classifications
left join paid_orders
    on paid_orders.golden_contact_id = classifications.golden_contact_id
    and paid_orders.ordered_at >= classifications.classified_at
group by
    classifications.lead_classification_id, classifications.contact_id, classifications.golden_contact_id,
    classifications.message_id, classifications.lead_score, classifications.lead_category,
    classifications.recommended_action, classifications.classification_source, classifications.model_name,
    classifications.classified_at, classifications.is_latest_for_contact
