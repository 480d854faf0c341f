select
    id as llm_call_id,
    task,
    provider,
    model as model_name,
    latency_ms,
    coalesce(input_tokens, 0) as input_tokens,
    coalesce(output_tokens, 0) as output_tokens,
    coalesce(estimated_cost_usd, 0)::numeric(12, 6) as estimated_cost_usd,
    outcome,
    outcome = 'ok' as is_success,
    created_at as called_at
from {{ source('crm', 'llm_calls') }}
