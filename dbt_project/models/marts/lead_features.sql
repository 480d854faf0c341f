-- Training data for lead_conversion_classifier: one row per lead at its decision time (as_of: when the contact's
-- first scored message arrived) with only what was known by then, and what happened in the 90 days after (the
-- label). ml/leads/features.py builds the same features for a live message; tests/integration/test_lead_model.py
-- proves no feature moves when later data arrives, and that the live features equal this row.
with decisions as (
    select distinct on (classifications.contact_id)
        classifications.contact_id,
        classifications.lead_classification_id,
        classifications.message_id,
        coalesce(messages.sent_at, classifications.classified_at) as as_of,
        classifications.lead_score,
        classifications.factors,
        classifications.signals,
        coalesce(messages.channel, 'unknown') as channel,
        messages.message_text
    from {{ ref('stg_crm__lead_classifications') }} as classifications
    left join {{ ref('stg_crm__messages') }} as messages on messages.message_id = classifications.message_id
    where classifications.contact_id is not null
    order by classifications.contact_id, coalesce(messages.sent_at, classifications.classified_at),
        classifications.lead_classification_id
),

factor_points as (
    select
        decisions.contact_id,
        max(case when factor ->> 'name' = 'urgency' then (factor ->> 'points')::int end) as urgency_points,
        max(case when factor ->> 'name' = 'decision_power' then (factor ->> 'points')::int end) as decision_points,
        max(case when factor ->> 'name' = 'budget' then (factor ->> 'points')::int end) as budget_points,
        max(case when factor ->> 'name' = 'product_fit' then (factor ->> 'points')::int end) as product_fit_points
    from decisions
    cross join lateral jsonb_array_elements(coalesce(decisions.factors, '[]'::jsonb)) as factor
    group by decisions.contact_id
),

first_intent as (
    select distinct on (message_id) message_id, primary_intent, intent_confidence
    from {{ ref('stg_crm__intent_detections') }}
    order by message_id, detected_at, intent_detection_id
),

first_sentiment as (
    select distinct on (message_id) message_id, sentiment_score
    from {{ ref('stg_crm__sentiment_analyses') }}
    order by message_id, analyzed_at, sentiment_analysis_id
),

history as (
    select
        decisions.contact_id,
        count(*) filter (where messages.direction = 'inbound') as inbound_messages_so_far,
        count(distinct messages.conversation_id) as conversations_so_far
    from decisions
    inner join {{ ref('stg_crm__messages') }} as messages
        on messages.contact_id = decisions.contact_id and messages.occurred_at <= decisions.as_of
    group by decisions.contact_id
),

prior_orders as (
    select
        decisions.contact_id,
        count(*) as prior_orders,
        sum(orders.total) as prior_revenue,
        extract(epoch from min(decisions.as_of) - max(orders.ordered_at)) / 86400.0 as days_since_last_order
    from decisions
    inner join {{ ref('stg_crm__orders') }} as orders
        on orders.contact_id = decisions.contact_id and orders.is_paid and orders.ordered_at < decisions.as_of
    group by decisions.contact_id
),

response_times as (
    -- How fast we answered this contact before: the mean first-response time of its conversations answered by
    -- as_of (none for a newcomer).
    select decisions.contact_id, avg(responses.first_response_seconds) as prior_avg_first_response_seconds
    from decisions
    inner join {{ ref('stg_crm__conversations') }} as conversations on conversations.contact_id = decisions.contact_id
    inner join {{ ref('int_conversation_first_responses') }} as responses
        on responses.conversation_id = conversations.conversation_id and responses.first_response_at <= decisions.as_of
    group by decisions.contact_id
),

outcomes as (
    select
        decisions.contact_id,
        count(orders.order_id) > 0 as converted_90d,
        coalesce(sum(orders.total), 0) as revenue_90d
    from decisions
    left join {{ ref('stg_crm__orders') }} as orders
        on orders.contact_id = decisions.contact_id and orders.is_paid
        and orders.ordered_at > decisions.as_of and orders.ordered_at <= decisions.as_of + interval '90 days'
    group by decisions.contact_id
)

select
    decisions.contact_id,
    decisions.lead_classification_id,
    decisions.as_of,
    -- features: known at as_of
    decisions.lead_score,
    coalesce(factor_points.urgency_points, 0) as urgency_points,
    coalesce(factor_points.decision_points, 0) as decision_points,
    coalesce(factor_points.budget_points, 0) as budget_points,
    coalesce(factor_points.product_fit_points, 0) as product_fit_points,
    jsonb_array_length(coalesce(decisions.signals, '[]'::jsonb)) as signal_count,
    coalesce(first_intent.primary_intent, 'unknown') as primary_intent,
    coalesce(first_intent.intent_confidence, 0) as intent_confidence,
    coalesce(first_sentiment.sentiment_score, 0) as sentiment_score,
    decisions.channel,
    coalesce(length(decisions.message_text), 0) as message_length,
    extract(hour from decisions.as_of at time zone '{{ var("reporting_timezone", "UTC") }}')::int as hour_of_day,
    extract(isodow from decisions.as_of at time zone '{{ var("reporting_timezone", "UTC") }}')::int as day_of_week,
    coalesce(history.inbound_messages_so_far, 0) as inbound_messages_so_far,
    coalesce(history.conversations_so_far, 0) as conversations_so_far,
    coalesce(prior_orders.prior_orders, 0) as prior_orders,
    coalesce(prior_orders.prior_revenue, 0) as prior_revenue,
    prior_orders.days_since_last_order,
    response_times.prior_avg_first_response_seconds,
    -- label: the 90 days after as_of, complete only once they have passed
    outcomes.converted_90d,
    outcomes.revenue_90d,
    decisions.as_of + interval '90 days' <= now() as label_complete
from decisions
left join factor_points on factor_points.contact_id = decisions.contact_id
left join first_intent on first_intent.message_id = decisions.message_id
left join first_sentiment on first_sentiment.message_id = decisions.message_id
left join history on history.contact_id = decisions.contact_id
left join prior_orders on prior_orders.contact_id = decisions.contact_id
left join response_times on response_times.contact_id = decisions.contact_id
left join outcomes on outcomes.contact_id = decisions.contact_id
