-- One row per day: how customers felt (sentiment of analysed inbound messages), urgency and churn risk.
select
    {{ local_date('analyzed_at') }} as sentiment_date,
    count(*) as analysed_messages,
    count(*) filter (where sentiment = 'positive') as positive_messages,
    count(*) filter (where sentiment = 'neutral') as neutral_messages,
    count(*) filter (where sentiment = 'negative') as negative_messages,
    round(count(*) filter (where sentiment = 'negative')::numeric / count(*), 4) as negative_share,
    round(avg(sentiment_score)::numeric, 4) as avg_sentiment_score,
    count(*) filter (where urgency_level in ('high', 'critical')) as urgent_messages,
    round(avg(churn_risk)::numeric, 2) as avg_churn_risk,
    count(distinct contact_id) as contacts
from {{ ref('stg_crm__sentiment_analyses') }}
group by 1
