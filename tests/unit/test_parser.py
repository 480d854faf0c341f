"""The parser turns every webhook shape Meta (and its quirky senders) produce into normalized events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from serving.services.ingest.parser import InvalidPayload, parse_webhook
from tests.conftest import PROJECT_FIXTURES, SHARED_FIXTURES, meta_fixture_files


def load(name: str) -> dict:
    for folder in (SHARED_FIXTURES, PROJECT_FIXTURES):
        if (folder / name).exists():
            return json.loads((folder / name).read_text())
    raise FileNotFoundError(f"{name} not found: the conformance corpus lives in ../shared/fixtures/meta, beside "
                            "the checkout (as CI lays it out)")


# file -> (messages, statuses, comments, feed, leads): what each body must normalize into.
EXPECTED_COUNTS: dict[str, tuple[int, int, int, int, int]] = {
    "fb_feed_comment_add_v211.json": (0, 0, 1, 0, 0),
    "fb_feed_comment_remove.json": (0, 0, 1, 0, 0),
    "fb_feed_post_add.json": (0, 0, 0, 1, 0),
    "fb_leadgen.json": (0, 0, 0, 0, 1),
    "fb_messenger_delivery.json": (0, 1, 0, 0, 0),
    "fb_messenger_read.json": (0, 1, 0, 0, 0),
    "fb_messenger_text_echo.json": (1, 0, 0, 0, 0),
    "ig_dm_seen_chatwoot.json": (0, 1, 0, 0, 0),
    "ig_dm_unsend_deleted_chatwoot.json": (0, 1, 0, 0, 0),
    "ig_mention_caption_changes.json": (0, 0, 1, 0, 0),
    "wa_status_failed.json": (0, 1, 0, 0, 0),
    "wa_batched_entries.json": (2, 2, 0, 0, 0),
    "fb_messenger_batched_read_delivery.json": (1, 3, 0, 0, 0),
    "fb_feed_reaction_and_edit.json": (0, 0, 1, 1, 0),
    "unknown_object.json": (0, 0, 0, 0, 0),
}


@pytest.mark.parametrize("path", meta_fixture_files(), ids=lambda p: p.name)
def test_every_fixture_normalizes_into_something_or_says_why(path: Path) -> None:
    parsed = parse_webhook(json.loads(path.read_text()))
    counts = parsed.counts()
    produced = sum(v for k, v in counts.items() if k != "unparsed")
    assert produced > 0 or parsed.unparsed, "a body must yield events or explain what it did not understand"
    if path.name in EXPECTED_COUNTS:
        expected = EXPECTED_COUNTS[path.name]
        got = (counts["messages"], counts["statuses"], counts["comments"], counts["feed"], counts["leads"])
        assert got == expected
    for event in parsed.messages:
        assert event.dedup_key and event.channel in ("whatsapp", "instagram", "messenger")
        assert event.counterpart_external_id, "every message belongs to a customer"
    for status in parsed.statuses:
        assert status.rank > 0, f"unknown status {status.status!r}"


def test_whatsapp_text_carries_both_user_ids_and_profile() -> None:
    message = parse_webhook(load("wa_message_text.json")).messages[0]
    assert (message.channel, message.message_type, message.text) == ("whatsapp", "text", "Body Text")
    assert message.external_id == "wamid.xyzxyz"
    assert message.account_external_id == "1122334455667"
    assert message.counterpart_external_id == "972987654321"
    assert message.sender_profile == {"name": "Test Name", "wa_id": "972987654321",
                                      "user_id": "US.13491208655302741918",
                                      "parent_user_id": "US.ENT.11815799212886844830"}
    assert message.sent_at == datetime.fromtimestamp(1697043223, UTC)


def test_whatsapp_media_reply_referral_reaction_and_order() -> None:
    image = parse_webhook(load("wa_message_image.json")).messages[0]
    assert image.message_type == "image" and image.media[0]["type"] == "image" and image.media[0]["media_id"]
    voice = parse_webhook(load("wa_message_voice.json")).messages[0]
    assert voice.media[0]["type"] == "audio" and voice.media[0].get("voice") is True
    reply = parse_webhook(load("wa_message_reply_context.json")).messages[0]
    assert reply.reply_to_external_id and reply.context
    ad = parse_webhook(load("wa_message_referral_ctwa_ad.json")).messages[0]
    assert ad.referral and ad.referral["source_id"] == "ADID" and ad.referral["ctwa_clid"] == "CTWA_CLID"
    reaction = parse_webhook(load("wa_message_reaction.json")).messages[0]
    assert reaction.message_type == "reaction" and reaction.reply_to_external_id
    assert reaction.payload["reaction"]["action"] == "react"
    unreaction = parse_webhook(load("wa_message_unreaction.json")).messages[0]
    assert unreaction.payload["reaction"]["action"] == "unreact" and unreaction.text is None
    order = parse_webhook(load("wa_message_order.json")).messages[0]
    assert order.payload["order"]["product_items"]


def test_whatsapp_interactive_replies_keep_the_chosen_option() -> None:
    button = parse_webhook(load("wa_interactive_button_reply.json")).messages[0]
    assert button.payload["interactive"]["type"] == "button_reply"
    assert button.payload["interactive"]["id"] and button.text
    flow = parse_webhook(load("wa_interactive_nfm_reply.json")).messages[0]
    assert flow.payload["interactive"]["type"] == "nfm_reply"
    assert flow.reply_to_external_id == "wamid.FLOWSENT"


def test_whatsapp_failed_status_keeps_error_and_ranks_above_read() -> None:
    status = parse_webhook(load("wa_status_failed.json")).statuses[0]
    assert status.status == "failed" and status.errors[0]["code"] == 130472
    read = parse_webhook(load("wa_status_read.json")).statuses[0]
    assert status.rank > read.rank > parse_webhook(load("wa_status_sent.json")).statuses[0].rank


def test_whatsapp_batched_body_with_integer_ids_and_an_unknown_field() -> None:
    parsed = parse_webhook(load("wa_batched_entries.json"))
    assert [m.external_id for m in parsed.messages] == ["wamid.BATCH.1", "wamid.BATCH.2"]
    assert parsed.messages[0].account_external_id == "106540352242922"  # integer id kept exactly
    assert parsed.messages[1].sender_profile["user_id"] == "PA.1234567890123456789"
    assert parsed.messages[1].sender_profile["name"] == "Ana Pérez"
    assert parsed.unparsed[0]["field"] == "message_template_status_update"


def test_dashboard_test_button_bare_change_is_understood() -> None:
    parsed = parse_webhook(load("wa_dashboard_test_button.json"))
    assert parsed.object_type == "whatsapp_business_account"
    assert parsed.messages[0].text == "this is a text message"


def test_chatwoot_instagram_without_object_and_with_iso_times() -> None:
    parsed = parse_webhook(load("ig_dm_text_chatwoot.json"))
    assert parsed.object_type == "instagram"
    message = parsed.messages[0]
    assert message.channel == "instagram" and message.direction == "inbound"
    assert message.sent_at == datetime(2021, 9, 8, 6, 34, 4, tzinfo=UTC)
    assert message.counterpart_external_id == "Sender-id-1"


def test_instagram_echo_story_reply_unsend_and_standby() -> None:
    echo = parse_webhook(load("ig_dm_echo_story_mention_chatwoot.json")).messages[0]
    assert echo.direction == "outbound" and echo.is_echo
    assert echo.counterpart_external_id == "chatwoot-app-user-id-1"
    story = parse_webhook(load("ig_dm_story_reply_graph_docs.json")).messages[0]
    assert story.context and "story" in story.context
    assert story.counterpart_external_id == "1234567890123456"
    deleted = parse_webhook(load("ig_dm_unsend_deleted_chatwoot.json")).statuses[0]
    assert (deleted.status, deleted.external_message_id) == ("deleted", "message-id-to-delete")
    standby = parse_webhook(load("ig_dm_standby_chatwoot.json")).messages[0]
    assert standby.payload.get("standby") is True


def test_messenger_postback_quick_reply_reaction_and_watermark_read() -> None:
    postback = parse_webhook(load("fb_messenger_postback.json")).messages[0]
    assert postback.message_type == "postback" and postback.payload["postback"]["payload"]
    quick = parse_webhook(load("fb_messenger_quick_reply.json")).messages[0]
    assert quick.message_type == "quick_reply" and quick.payload["quick_reply"]["payload"]
    reaction = parse_webhook(load("fb_messenger_reaction.json")).messages[0]
    assert reaction.message_type == "reaction" and reaction.reply_to_external_id
    read = parse_webhook(load("fb_messenger_read.json")).statuses[0]
    assert read.status == "read" and read.watermark is not None and read.external_message_id is None


def test_comments_mentions_feed_and_leads() -> None:
    fb = parse_webhook(load("fb_feed_comment_add_v211.json")).comments[0]
    assert (fb.channel, fb.verb, fb.external_id) == ("facebook", "add", "901097836652708_903438993085259")
    assert fb.text == "and the next one" and fb.author_name == "Tester"
    removed = parse_webhook(load("fb_feed_comment_remove.json")).comments[0]
    assert removed.verb == "remove" and removed.dedup_key != fb.dedup_key
    ig = parse_webhook(load("ig_comment_with_from_media.json")).comments[0]
    assert (ig.channel, ig.author_name, ig.post_external_id) == ("instagram", "testuser", "76543987")
    mention = parse_webhook(load("ig_mention_comment_changes.json")).comments[0]
    assert mention.kind == "mention" and mention.external_id == "4444"
    live = parse_webhook(load("ig_comment_live_iso_time.json")).comments[0]
    assert live.external_id == "1790000002" and live.payload["live"] is True
    assert live.created_time == datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    lead = parse_webhook(load("fb_leadgen.json")).leads[0]
    assert lead.leadgen_id == "1636129430026801" and lead.form_id == "12345"


def test_unknown_object_is_kept_as_unparsed_not_an_error() -> None:
    parsed = parse_webhook(load("unknown_object.json"))
    assert parsed.object_type == "user" and parsed.unparsed and not parsed.needs_processing


@pytest.mark.parametrize("body", [[], "text", 3, None])
def test_non_object_bodies_are_invalid(body: object) -> None:
    with pytest.raises(InvalidPayload):
        parse_webhook(body)


def test_strange_shapes_do_not_raise() -> None:
    for body in ({}, {"entry": None}, {"entry": [1, "x", None]}, {"object": "page", "entry": {"id": 1}},
                 {"object": "page", "entry": [{"messaging": [{"sender": {}, "weird": 1}]}]},
                 {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"messages": [7]}}]}]}):
        parse_webhook(body)


def test_nul_characters_are_removed_before_storage() -> None:
    body = {"object": "instagram", "entry": [{"id": "1", "messaging": [
        {"sender": {"id": "2"}, "recipient": {"id": "1"}, "timestamp": 1, "message": {"mid": "x", "text": "a\u0000b"}}
    ]}]}
    assert parse_webhook(body).messages[0].text == "ab"
