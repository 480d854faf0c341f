-- One row per contact of the serving layer, with the golden contact id that deduplication assigned it, its
-- channels and what it bought. Group by golden_contact_id to count people rather than records.
with identities as (
    select
        contact_id,
        count(*) as identity_count,
        string_agg(distinct channel, ',' order by channel) as identity_channels
    from {{ ref('stg_crm__contact_identities') }}
    group by contact_id
),

conversations as (
    select contact_id, count(*) as conversation_count, min(created_at) as first_conversation_at
    from {{ ref('stg_crm__conversations') }}
    group by contact_id
),

orders as (
    select
        contact_id,
        count(*) filter (where is_paid) as paid_order_count,
        coalesce(sum(total) filter (where is_paid), 0) as lifetime_revenue,
        min(ordered_at) filter (where is_paid) as first_paid_order_at
    from {{ ref('stg_crm__orders') }}
    group by contact_id
)

select
    contacts.contact_id,
    golden.golden_contact_id,
    golden.contact_id = golden.golden_contact_id as is_golden_record,
    golden.match_probability,
    contacts.display_name,
    contacts.first_name,
    contacts.last_name,
    contacts.phone_e164,
    contacts.email,
    contacts.language,
    contacts.country,
    contacts.city,
    contacts.source_channel,
    contacts.lead_score,
    contacts.lead_category,
    contacts.lead_scored_at,
    contacts.is_opted_out,
    coalesce(identities.identity_count, 0) as identity_count,
    identities.identity_channels,
    coalesce(conversations.conversation_count, 0) as conversation_count,
    conversations.first_conversation_at,
    coalesce(orders.paid_order_count, 0) as paid_order_count,
    coalesce(orders.lifetime_revenue, 0) as lifetime_revenue,
    orders.first_paid_order_at,
    contacts.first_seen_at,
    contacts.last_seen_at,
    contacts.created_at
from {{ ref('stg_crm__contacts') }} as contacts
inner join {{ ref('int_contact_golden_ids') }} as golden on golden.contact_id = contacts.contact_id
left join identities on identities.contact_id = contacts.contact_id
left join conversations on conversations.contact_id = contacts.contact_id
left join orders on orders.contact_id = contacts.contact_id
