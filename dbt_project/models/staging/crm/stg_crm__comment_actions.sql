-- One row per comment the auto-responder (flow 17) decided on: the action, the NLU's reading of the comment and
-- how carrying it out went. conversation_id is the DM conversation a private reply or an escalation opened.
select
    id as comment_action_id,
    comment_id as social_comment_id,
    channel,
    account_external_id,
    comment_external_id,
    post_external_id,
    action,
    reason,
    intent,
    sentiment,
    lead_score,
    language,
    reply_text,
    status,
    status = 'done' as is_done,
    external_id as action_external_id,
    recipient_external_id,
    contact_id,
    conversation_id,
    coalesce(attempts, 0) as attempts,
    last_error,
    next_attempt_at,
    started_at,
    done_at,
    created_at
from {{ source('crm', 'comment_actions') }}
