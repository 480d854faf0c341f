select
    id as lead_classification_id,
    contact_id,
    message_id,
    score as lead_score,
    category as lead_category,
    recommended_action,
    factors,
    signals,
    source as classification_source,
    model as model_name,
    created_at as classified_at
from {{ source('crm', 'lead_classifications') }}
