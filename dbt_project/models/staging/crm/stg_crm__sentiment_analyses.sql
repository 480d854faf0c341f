select
    id as sentiment_analysis_id,
    message_id,
    contact_id,
    sentiment,
    score as sentiment_score,
    confidence,
    urgency_level,
    churn_risk,
    source as analysis_source,
    model as model_name,
    created_at as analyzed_at
from {{ source('crm', 'sentiment_analyses') }}
