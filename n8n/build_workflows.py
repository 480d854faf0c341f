"""Writes n8n/workflows/*.json: one workflow per automation flow, all of the shape verified on n8n 2.8.4
(../shared/fixtures/n8n/22_crm_alert_relay.json): Webhook (raw body) → HMAC check (Code) → signature valid? →
the flow's action → a Respond node on every path (200 ok, 502 action failed, 401 bad signature, 500 verifier
broken). Run it after changing a flow: `.venv/bin/python n8n/build_workflows.py`; the JSON files are committed.

The CRM posts each event to `<N8N base>/webhook/crm-<NN>` (serving/services/automation/dispatcher.py) and counts it
delivered only on `{"ok": true}`. Environment n8n needs: AUTOMATION_WEBHOOK_SECRET (= the CRM's
AUTOMATION_WEBHOOK_SECRET), CRM_API_BASE_URL, N8N_BLOCK_ENV_ACCESS_IN_NODE=false, NODE_FUNCTION_ALLOW_BUILTIN=crypto;
for 07 and 22 SLACK_WEBHOOK_URL, and for 22 an SMTP credential (`crmSmtp00000001`) and ALERT_EMAIL_TO.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "workflows"
API_CREDENTIAL = {"httpHeaderAuth": {"id": "crmApiBearer0001", "name": "CRM API bearer (automation)"}}
SMTP_CREDENTIAL = {"smtp": {"id": "crmSmtp00000001", "name": "CRM alerts SMTP"}}

VERIFY = """// Verify x-crm-signature == "sha256=" + hex(HMAC-SHA256(secret, raw request body)).
// Needs: AUTOMATION_WEBHOOK_SECRET, N8N_BLOCK_ENV_ACCESS_IN_NODE=false, NODE_FUNCTION_ALLOW_BUILTIN=crypto, and
// the Webhook node's options.rawBody = true (the exact bytes arrive as binary property "data").
const crypto = require('crypto');
const secret = $env.AUTOMATION_WEBHOOK_SECRET;
if (!secret) {
  throw new Error('AUTOMATION_WEBHOOK_SECRET is not set or env access is blocked (N8N_BLOCK_ENV_ACCESS_IN_NODE)');
}
const out = [];
const items = $input.all();
for (let i = 0; i < items.length; i++) {
  const item = items[i];
  const headers = item.json.headers || {};
  const received = String(headers['x-crm-signature'] || '').trim().toLowerCase();
  const body = item.json.body || {};
  let valid = false;
  let reason = 'missing x-crm-signature header';
  if (received) {
    const raw = item.binary && item.binary.data ? await helpers.getBinaryDataBuffer(i, 'data') : Buffer.alloc(0);
    const expected = 'sha256=' + crypto.createHmac('sha256', secret).update(raw).digest('hex');
    const a = Buffer.from(received, 'utf8');
    const b = Buffer.from(expected, 'utf8');
    valid = a.length === b.length && crypto.timingSafeEqual(a, b);
    reason = valid ? 'ok' : 'signature mismatch';
  }
  out.push({ json: { signatureValid: valid, reason, event_id: body.event_id ?? null, event: body } });
}
return out;
"""

# flow number -> (fixed id, name, what the action does)
MESSAGE_FLOWS = {
    "08": ("crmFollowUp00008", "08 - follow-up"),
    "10": ("crmNurturing0010", "10 - nurturing"),
    "11": ("crmAiCloser00011", "11 - AI closer"),
    "12": ("crmCartRecovry12", "12 - cart recovery"),
    "13": ("crmPaymentRem013", "13 - payment reminders"),
}
MESSAGE_BODY = ("={{ JSON.stringify({ contact_id: $json.event.payload.contact_id, "
                "step: String($json.event.payload.step), subject: String($json.event.payload.subject), "
                "raised_at: $json.event.raised_at, context: $json.event.payload.context || {}, "
                "conversation_id: $json.event.payload.conversation_id ?? null }) }}")


def node(n: int, flow: str, name: str, kind: str, version: float, position: tuple[int, int], parameters: dict,
         **extra: object) -> dict:
    return {"parameters": parameters, "id": f"0c7e2d51-{flow}00-4c1e-9a01-{n:012d}", "name": name,
            "type": f"n8n-nodes-base.{kind}", "typeVersion": version, "position": list(position), **extra}


def respond(n: int, flow: str, name: str, code: int, body: str, position: tuple[int, int]) -> dict:
    return node(n, flow, name, "respondToWebhook", 1.1, position,
                {"respondWith": "json", "responseBody": body, "options": {"responseCode": code}})


def http(n: int, flow: str, name: str, url: str, body: str, position: tuple[int, int],
         authenticated: bool = True) -> dict:
    parameters = {"method": "POST", "url": url, "sendBody": True, "specifyBody": "json", "jsonBody": body,
                  "options": {"timeout": 10000}}
    extra: dict = {"onError": "continueErrorOutput"}
    if authenticated:
        parameters = {**parameters, "authentication": "genericCredentialType", "genericAuthType": "httpHeaderAuth"}
        extra["credentials"] = API_CREDENTIAL
    return node(n, flow, name, "httpRequest", 4.2, position, parameters, **extra)


def link(*targets: str) -> dict:
    return {"main": [[{"node": t, "type": "main", "index": 0}] if t else [] for t in targets]}


def workflow(flow: str, workflow_id: str, name: str, actions: list[dict], action_links: dict) -> dict:
    """The common frame around `actions` (the first one receives the verified event)."""
    first = actions[0]["name"]
    frame = [
        node(1, flow, "CRM event webhook", "webhook", 2, (0, 200),
             {"httpMethod": "POST", "path": f"crm-{flow}", "responseMode": "responseNode",
              "options": {"rawBody": True}}, webhookId=f"0c7e2d51-{flow}00-4c1e-9a01-0000000000aa"),
        node(2, flow, "Verify HMAC signature", "code", 2, (240, 200), {"jsCode": VERIFY},
             onError="continueErrorOutput"),
        node(3, flow, "Signature valid?", "if", 2.2, (480, 200), {
            "conditions": {
                "options": {"caseSensitive": True, "leftValue": "", "typeValidation": "strict", "version": 2},
                "conditions": [{"id": f"0c7e2d51-{flow}00-4c1e-9a01-0000000000c1",
                                "leftValue": "={{ $json.signatureValid }}", "rightValue": "",
                                "operator": {"type": "boolean", "operation": "true", "singleValue": True}}],
                "combinator": "and"},
            "options": {}}),
        # `result`: the action's answer, so the CRM retries a deferral (quiet hours, daily cap) at its retry_at.
        respond(4, flow, "Respond 200 ok", 200,
                "={{ { ok: true, event_id: $('Verify HMAC signature').item.json.event_id, result: $json } }}",
                (1200, 0)),
        respond(5, flow, "Respond 502 action failed", 502,
                "={{ { ok: false, error: 'action failed', event_id: $('Verify HMAC signature').item.json.event_id "
                "} }}", (1200, 200)),
        respond(6, flow, "Respond 401 bad signature", 401, '{"ok": false, "error": "invalid signature"}',
                (720, 400)),
        node(7, flow, "Stop: bad signature", "stopAndError", 1, (960, 400),
             {"errorMessage": "={{ 'Rejected CRM event: ' + $('Verify HMAC signature').item.json.reason }}"}),
        respond(8, flow, "Respond 500 verifier error", 500,
                '{"ok": false, "error": "signature check could not run (server misconfiguration)"}', (480, 500)),
        node(9, flow, "Stop: verifier error", "stopAndError", 1, (720, 600),
             {"errorMessage": "={{ 'HMAC verifier failed: ' + ($json.error && $json.error.message || $json.error "
                              "|| 'unknown') }}"}),
    ]
    connections = {
        "CRM event webhook": link("Verify HMAC signature"),
        "Verify HMAC signature": link("Signature valid?", "Respond 500 verifier error"),
        "Signature valid?": link(first, "Respond 401 bad signature"),
        "Respond 401 bad signature": link("Stop: bad signature"),
        "Respond 500 verifier error": link("Stop: verifier error"),
        **action_links,
    }
    return {"id": workflow_id, "name": name, "active": False, "nodes": frame + actions, "connections": connections,
            "settings": {"executionOrder": "v1"}, "pinData": {}, "tags": []}


def message_flow(flow: str, workflow_id: str, name: str) -> dict:
    action = http(10, flow, "Send via CRM action",
                  "={{ $env.CRM_API_BASE_URL + '/api/v1/automation/actions/' + $json.event.payload.kind }}",
                  MESSAGE_BODY, (720, 100))
    return workflow(flow, workflow_id, name, [action],
                    {"Send via CRM action": link("Respond 200 ok", "Respond 502 action failed")})


def slack(n: int, flow: str, name: str, text: str, position: tuple[int, int]) -> dict:
    """A Slack incoming webhook (its documented JSON shape), the URL from the environment."""
    return http(n, flow, name, "={{ $env.SLACK_WEBHOOK_URL }}", "={{ JSON.stringify({ text: " + text + " }) }}",
                position, authenticated=False)


def sync_flow() -> dict:
    """01: every message received, synced to an outside sheet or CRM (CRM_SYNC_URL) when one is configured."""
    flow = "01"
    configured = node(10, flow, "Sync target configured?", "if", 2.2, (720, 100), {
        "conditions": {
            "options": {"caseSensitive": True, "leftValue": "", "typeValidation": "loose", "version": 2},
            "conditions": [{"id": "0c7e2d51-0100-4c1e-9a01-0000000000c2", "leftValue": "={{ $env.CRM_SYNC_URL }}",
                            "rightValue": "", "operator": {"type": "string", "operation": "notEmpty",
                                                            "singleValue": True}}],
            "combinator": "and"},
        "options": {}})
    push = http(11, flow, "Push to sheet or CRM", "={{ $env.CRM_SYNC_URL }}",
                "={{ JSON.stringify($json.event) }}", (960, 0), authenticated=False)
    skipped = respond(12, flow, "Respond 200 not synced", 200,
                      "={{ { ok: true, synced: false, event_id: $('Verify HMAC signature').item.json.event_id } }}",
                      (960, 200))
    return workflow(flow, "crmMessageSync001", "01 - message received: sync", [configured, push, skipped], {
        "Sync target configured?": link("Push to sheet or CRM", "Respond 200 not synced"),
        "Push to sheet or CRM": link("Respond 200 ok", "Respond 502 action failed")})


def escalation_flow() -> dict:
    flow = "07"
    notify = slack(10, flow, "Notify the agent on Slack",
                   "'Escalation: ticket ' + $json.event.payload.ticket_id + ' for ' + "
                   "($json.event.payload.agent_name || 'the ' + $json.event.payload.department) + ' (priority ' + "
                   "$json.event.payload.priority + '): ' + ($json.event.payload.summary || '')", (720, 100))
    return workflow(flow, "crmEscalation0007", "07 - escalation: notify the agent", [notify],
                    {"Notify the agent on Slack": link("Respond 200 ok", "Respond 502 action failed")})


def alerts_flow() -> dict:
    flow = "22"
    post = slack(10, flow, "Alert on Slack",
                 "'CRM alert: ' + $json.event.payload.alert + ' - ' + ($json.event.payload.detail || '')", (720, 100))
    mail = node(11, flow, "Alert by email", "emailSend", 2.1, (960, 100), {
        "fromEmail": "={{ $env.ALERT_EMAIL_FROM || 'crm@localhost' }}",
        "toEmail": "={{ $env.ALERT_EMAIL_TO }}",
        "subject": "={{ 'CRM alert: ' + $('Verify HMAC signature').item.json.event.payload.alert }}",
        "emailFormat": "text",
        "text": "={{ JSON.stringify($('Verify HMAC signature').item.json.event.payload, null, 2) }}",
        "options": {}}, credentials=SMTP_CREDENTIAL, onError="continueErrorOutput")
    return workflow(flow, "crmAlerts00000022", "22 - alerts: Slack and email", [post, mail], {
        "Alert on Slack": link("Alert by email", "Respond 502 action failed"),
        "Alert by email": link("Respond 200 ok", "Respond 502 action failed")})


def all_workflows() -> dict[str, dict]:
    flows = {"01": sync_flow(), "07": escalation_flow(), "22": alerts_flow()}
    flows.update({flow: message_flow(flow, *spec) for flow, spec in MESSAGE_FLOWS.items()})
    return dict(sorted(flows.items()))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for flow, definition in all_workflows().items():
        slug = definition["name"].split(" - ", 1)[1].split(":")[0].replace(" ", "_").lower()
        path = OUT / f"{flow}_{slug}.json"
        path.write_text(json.dumps(definition, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
