"""WhatsApp templates without a database: the send payload, parameter counting, the stored text, the language
rule, and how the Graph client pages through Meta's listing."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
import respx

from crm.cli import processes
from crm.cli.templates import graph_base_url
from crm.db.models import WhatsappTemplate
from crm.settings import Settings
from serving.sandbox import create_sandbox
from serving.services.channels.graph import GraphClient, TemplateParameterError, whatsapp_template_message
from serving.services.templates import (
    count_parameters,
    language_rank,
    needs_more_than_body_parameters,
    render_template_text,
)

SEGUIMIENTO_BODY = "Hola {{1}}, ¿seguimos con tu consulta? Responde a este mensaje y te atendemos."


def template(body: str, *extra: dict, name: str = "seguimiento", language: str = "es") -> WhatsappTemplate:
    components = [{"type": "BODY", "text": body}, *extra]
    return WhatsappTemplate(business_account_id="WABA", name=name, language=language, category="UTILITY",
                            status="APPROVED", components=components,
                            parameter_count=count_parameters(components))


def test_template_payload_has_the_cloud_api_shape() -> None:
    assert whatsapp_template_message("seguimiento", "es", ["Ana", "pedido 42"]) == {
        "type": "template",
        "template": {"name": "seguimiento", "language": {"code": "es"},
                     "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"},
                                                                    {"type": "text", "text": "pedido 42"}]}]},
    }


def test_a_template_without_parameters_has_no_components() -> None:
    assert whatsapp_template_message("hello_world", "en_US", []) == {
        "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}


def test_parameters_meta_would_refuse_are_flattened_or_refused() -> None:
    payload = whatsapp_template_message("seguimiento", "es", ["Ana\nMaría\tLópez      Díaz"])
    assert payload["template"]["components"][0]["parameters"][0]["text"] == "Ana María López Díaz"
    with pytest.raises(TemplateParameterError):
        whatsapp_template_message("seguimiento", "es", ["  \n "])


def test_parameter_count_is_the_highest_placeholder_of_the_body() -> None:
    assert count_parameters([{"type": "BODY", "text": SEGUIMIENTO_BODY}]) == 1
    assert count_parameters([{"type": "HEADER", "format": "TEXT", "text": "Pedido {{1}}"},
                             {"type": "BODY", "text": "{{1}}: tu pedido {{3}} sale el {{ 2 }}, {{1}}"},
                             {"type": "FOOTER", "text": "{{9}} no cuenta"}]) == 3
    assert count_parameters([{"type": "body", "text": "Sin variables"}]) == 0
    assert count_parameters([]) == 0


def test_rendered_text_is_what_the_customer_reads() -> None:
    seguimiento = template(SEGUIMIENTO_BODY)
    assert render_template_text(seguimiento, ["Ana\nMaría"]) == (
        "Hola Ana María, ¿seguimos con tu consulta? Responde a este mensaje y te atendemos.")
    two = template("{{2}} para {{1}}: {{ 2 }}")
    assert render_template_text(two, ["Ana", "15%"]) == "15% para Ana: 15%"


def test_rendering_with_the_wrong_number_of_parameters_is_refused() -> None:
    with pytest.raises(TemplateParameterError, match="takes 1 parameter"):
        render_template_text(template(SEGUIMIENTO_BODY), [])
    with pytest.raises(TemplateParameterError):
        render_template_text(template(SEGUIMIENTO_BODY), ["Ana", "extra"])


def test_language_rule_prefers_exact_then_bare_base_then_a_variant() -> None:
    assert language_rank("es_PA", "es_PA") == 0
    assert language_rank("es-pa", "es_PA") == 0
    assert language_rank("es_PA", "es") == 1
    assert language_rank("es_PA", "es_ES") == 2
    assert language_rank("es", "es_MX") == 2
    assert language_rank("es", "en_US") is None
    assert language_rank("en", "es") is None


def test_templates_needing_more_than_body_text_are_recognised() -> None:
    assert not needs_more_than_body_parameters(template(SEGUIMIENTO_BODY).components)
    assert needs_more_than_body_parameters(template("Hola", {"type": "HEADER", "format": "IMAGE"}).components)
    assert needs_more_than_body_parameters(template("Hola {{first_name}}").components)
    assert needs_more_than_body_parameters(template("Hola", {"type": "BUTTONS", "buttons": [
        {"type": "URL", "text": "Ver", "url": "https://shop.example/o/{{1}}"}]}).components)


async def test_paging_off_our_host_uses_the_after_cursor_and_keeps_the_token_home() -> None:
    """A `next` URL on another host (e.g. Meta's, behind a proxy base URL) is not followed with our token."""
    graph = GraphClient("https://graph-proxy.test", "v21.0")
    try:
        with respx.mock(assert_all_called=True) as mock:
            route = mock.get("https://graph-proxy.test/v21.0/WABA1/message_templates")
            route.side_effect = [
                httpx.Response(200, json={"data": [{"name": "a", "language": "es", "id": "1"}], "paging": {
                    "cursors": {"before": "B1", "after": "A1"},
                    "next": "https://graph.facebook.com/v21.0/WABA1/message_templates?after=A1"}}),
                httpx.Response(200, json={"data": [{"name": "b", "language": "es", "id": "2"}],
                                          "paging": {"cursors": {"before": "B2", "after": "A2"}}}),
            ]
            listed = await graph.list_templates("WABA1", "tok-1", page_size=1)
        assert [t["name"] for t in listed] == ["a", "b"]
        second = route.calls[1].request
        assert second.url.params["after"] == "A1" and second.url.params["limit"] == "1"
        assert second.url.params["fields"] == "name,language,status,category,components,id"
        assert second.headers["Authorization"] == "Bearer tok-1"
    finally:
        await graph.aclose()


async def test_the_sandbox_answers_a_template_send_like_any_whatsapp_send() -> None:
    """A template gets a wamid and its sent / delivered / read webhooks, carrying our idempotency key."""
    sandbox = create_sandbox("https://crm.test/api/v1/webhooks/inbound", "secret", status_delay_s=0)
    graph = GraphClient("http://sandbox.test", "v21.0",
                        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox)))
    try:
        with respx.mock(assert_all_called=True) as mock:
            webhook = mock.post("https://crm.test/api/v1/webhooks/inbound").respond(200)
            result = await graph.send_whatsapp("PHONE1", "50761234567",
                                               whatsapp_template_message("seguimiento", "es", ["Ana"]), "tok",
                                               callback_data="reengage:1")
            for _ in range(500):  # the sandbox posts the statuses in the background
                if len(webhook.calls) == 3:
                    break
                await asyncio.sleep(0.01)
        assert result.external_id.startswith("wamid.SANDBOX.")
        statuses = [orjson.loads(call.request.content)["entry"][0]["changes"][0]["value"]["statuses"][0]
                    for call in webhook.calls]
        assert [(s["id"], s["status"], s["biz_opaque_callback_data"]) for s in statuses] == [
            (result.external_id, state, "reengage:1") for state in ("sent", "delivered", "read")]
        assert all(call.request.headers["X-Hub-Signature-256"].startswith("sha256=") for call in webhook.calls)
    finally:
        await graph.aclose()


def test_sync_reads_from_a_sandbox_crm_serve_started_only_when_no_base_url_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("META_GRAPH_BASE_URL", raising=False)
    monkeypatch.setattr(processes.Service, "is_running", lambda self: True)
    assert graph_base_url(Settings(_env_file=None, app_env="development")) == "http://127.0.0.1:8765"
    assert graph_base_url(Settings(_env_file=None, app_env="development",
                                   meta_graph_base_url="https://proxy.test")) == "https://proxy.test"
    assert graph_base_url(Settings(_env_file=None, app_env="production")) == "https://graph.facebook.com"
    monkeypatch.setattr(processes.Service, "is_running", lambda self: False)
    assert graph_base_url(Settings(_env_file=None, app_env="development")) == "https://graph.facebook.com"
