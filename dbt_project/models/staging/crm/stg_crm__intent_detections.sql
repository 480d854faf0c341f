select
    id as intent_detection_id,
    message_id,
    contact_id,
    language,
    primary_intent,
    confidence as intent_confidence,
    source as detection_source,
    model as model_name,
    created_at as detected_at
from {{ source('crm', 'intent_detections') }}
