-- One row per day, provider, model and task: LLM calls, failures, tokens, estimated cost and latency.
select
    {{ local_date('called_at') }} as call_date,
    provider,
    model_name,
    task,
    count(*) as calls,
    count(*) filter (where is_success) as successful_calls,
    count(*) filter (where not is_success) as unsuccessful_calls,
    sum(input_tokens) as input_tokens,
    sum(output_tokens) as output_tokens,
    sum(estimated_cost_usd) as estimated_cost_usd,
    percentile_cont(0.5) within group (order by latency_ms) as p50_latency_ms,
    percentile_cont(0.95) within group (order by latency_ms) as p95_latency_ms
from {{ ref('stg_crm__llm_calls') }}
group by 1, 2, 3, 4
