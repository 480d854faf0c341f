"""What every conformance payload must normalize into, written out per file (reviewed against the raw JSON).

A parser change that sends an event kind to `unparsed`, flips a direction or loses an id fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serving.services.ingest.parser import parse_webhook
from tests.conftest import meta_fixture_files

EXPECTED: dict[str, list[tuple]] = {
    'fb_feed_comment_add_v211.json': [
        ('comment', 'facebook', 'comment', 'add', '901097836652708_903438993085259', '1234567890321'),
    ],
    'fb_feed_comment_remove.json': [
        ('comment', 'facebook', 'comment', 'remove', '905578656204626_905579239537901', '1234567890321'),
    ],
    'fb_feed_post_add.json': [
        ('feed', 'post', 'add', '1234567890321_7293787835232', '8423678347823'),
    ],
    'fb_leadgen.json': [
        ('lead', '1636129430026801', '12345'),
    ],
    'fb_messenger_delivery.json': [
        ('status', 'messenger', 'delivered', 'mid.1458668856218:ed81099e15d3f4f233'),
    ],
    'fb_messenger_media_attachment.json': [
        ('message', 'messenger', 'inbound', 'image', 'mid.1458696618141:b4ef9d19ec21086067', '', '987654321432'),
    ],
    'fb_messenger_postback.json': [
        ('message', 'messenger', 'inbound', 'postback', None, '', '987654321432'),
    ],
    'fb_messenger_quick_reply.json': [
        ('message', 'messenger', 'inbound', 'quick_reply', 'mid.1458696618141:b4ef9d19ec21086067', 'quick reply text', '987654321432'),
    ],
    'fb_messenger_reaction.json': [
        ('message', 'messenger', 'inbound', 'reaction', None, '😢', 'USER_ID'),
    ],
    'fb_messenger_read.json': [
        ('status', 'messenger', 'read', None),
    ],
    'fb_messenger_text.json': [
        ('message', 'messenger', 'inbound', 'text', 'mid.1457764197618:41d102a3e1ae206a38', 'hello, world!', '987654321432'),
    ],
    'fb_messenger_text_echo.json': [
        ('message', 'messenger', 'outbound', 'text', 'mid.1457764197618:41d102a3e1ae206a38', 'hello, world!', '12345654332'),
    ],
    'ig_comment_with_from_media.json': [
        ('comment', 'instagram', 'comment', 'add', '123456789', '1234536447'),
    ],
    'ig_dm_echo_story_mention_chatwoot.json': [
        ('message', 'instagram', 'outbound', 'story_mention', 'message-id-1', '', 'chatwoot-app-user-id-1'),
    ],
    'ig_dm_ig_reel_attachment.json': [
        ('message', 'instagram', 'inbound', 'ig_reel', '890', '', '567'),
    ],
    'ig_dm_postback.json': [
        ('message', 'instagram', 'inbound', 'postback', 'MESSAGE-ID', 'SELECTED-ICEBREAKER-REPLY-OR-CTA-BUTTON', '567'),
    ],
    'ig_dm_quick_reply.json': [
        ('message', 'instagram', 'inbound', 'quick_reply', '890', '', '567'),
    ],
    'ig_dm_referral.json': [
        ('message', 'instagram', 'inbound', 'referral', None, '', '567'),
    ],
    'ig_dm_seen_chatwoot.json': [
        ('status', 'instagram', 'read', 'message-id-1'),
    ],
    'ig_dm_share_attachment_chatwoot.json': [
        ('message', 'instagram', 'inbound', 'share', 'message-id-1', '', 'Sender-id-1'),
    ],
    'ig_dm_standby_chatwoot.json': [
        ('message', 'instagram', 'inbound', 'text', 'message-id-1', 'This is the first standby message from t', 'Sender-id-1'),
    ],
    'ig_dm_story_mention.json': [
        ('message', 'instagram', 'inbound', 'story_mention', '890', '', '567'),
    ],
    'ig_dm_story_mention_chatwoot.json': [
        ('message', 'instagram', 'inbound', 'story_mention', 'message-id-1', '', 'Sender-id-1'),
    ],
    'ig_dm_story_reply_chatwoot.json': [
        ('message', 'instagram', 'inbound', 'text', 'message-id-1', 'This is the story reply', 'Sender-id-1'),
    ],
    'ig_dm_test_text_chatwoot.json': [
        ('message', 'instagram', 'inbound', 'text', 'random_mid', 'random_text', '12334'),
    ],
    'ig_dm_text.json': [
        ('message', 'instagram', 'inbound', 'text', '890', 'Text in message', '567'),
    ],
    'ig_dm_text_chatwoot.json': [
        ('message', 'instagram', 'inbound', 'text', 'message-id-1', 'This is the first message from the custo', 'Sender-id-1'),
    ],
    'ig_dm_unsend_deleted_chatwoot.json': [
        ('status', 'instagram', 'deleted', 'message-id-to-delete'),
    ],
    'ig_mention_caption_changes.json': [
        ('comment', 'instagram', 'mention', 'add', None, None),
    ],
    'ig_mention_comment_changes.json': [
        ('comment', 'instagram', 'mention', 'add', '4444', None),
    ],
    'wa_interactive_button_reply.json': [
        ('message', 'whatsapp', 'inbound', 'interactive', 'wamid.xyzxyz', 'title', '972987654321'),
    ],
    'wa_interactive_list_reply.json': [
        ('message', 'whatsapp', 'inbound', 'interactive', 'wamid.zyzxyz', 'title', '972987654321'),
    ],
    'wa_interactive_list_reply_with_description.json': [
        ('message', 'whatsapp', 'inbound', 'interactive', 'wamid.zyzxyz', 'title', '972987654321'),
    ],
    'wa_message_audio.json': [
        ('message', 'whatsapp', 'inbound', 'audio', 'wamid.xyzxyz', '', '972987654321'),
    ],
    'wa_message_contacts.json': [
        ('message', 'whatsapp', 'inbound', 'contacts', 'wamid.xyzxyz', '', '972987654321'),
    ],
    'wa_message_document.json': [
        ('message', 'whatsapp', 'inbound', 'document', 'wamid.xyzxyz', 'caption', '972987654321'),
    ],
    'wa_message_forwarded.json': [
        ('message', 'whatsapp', 'inbound', 'text', 'wamid.xyzxyz', 'forwarded text', '972987654321'),
    ],
    'wa_message_image.json': [
        ('message', 'whatsapp', 'inbound', 'image', 'wamid.xyzxyz', '', '972987654321'),
    ],
    'wa_message_image_with_url.json': [
        ('message', 'whatsapp', 'inbound', 'image', 'wamid.xyzxyz', '', '972987654321'),
    ],
    'wa_message_interactive_with_error.json': [
        ('message', 'whatsapp', 'inbound', 'interactive', 'wamid.wegrchytvwcggt=', '', '972987654321'),
        ('unparsed', 'errors'),
    ],
    'wa_message_location_chosen.json': [
        ('message', 'whatsapp', 'inbound', 'location', 'wamid.xyzxyz', 'Facebook HQ', '972987654321'),
    ],
    'wa_message_location_current.json': [
        ('message', 'whatsapp', 'inbound', 'location', 'wamid.xyzxyz', '', '972987654321'),
    ],
    'wa_message_order.json': [
        ('message', 'whatsapp', 'inbound', 'order', 'wamid.xyzxyz', '', '972987654321'),
    ],
    'wa_message_reaction.json': [
        ('message', 'whatsapp', 'inbound', 'reaction', 'wamid.xyzxyz', '😮', '972987654321'),
    ],
    'wa_message_referral_ctwa_ad.json': [
        ('message', 'whatsapp', 'inbound', 'text', 'wamid.ID', 'BODY', '972987654321'),
    ],
    'wa_message_reply_context.json': [
        ('message', 'whatsapp', 'inbound', 'text', 'wamid.xyzxyz', 'replied text', '972987654321'),
    ],
    'wa_message_sticker.json': [
        ('message', 'whatsapp', 'inbound', 'sticker', 'wamid.xyzxyz', '', '972987654321'),
    ],
    'wa_message_text.json': [
        ('message', 'whatsapp', 'inbound', 'text', 'wamid.xyzxyz', 'Body Text', '972987654321'),
    ],
    'wa_message_unreaction.json': [
        ('message', 'whatsapp', 'inbound', 'reaction', 'wamid.xyzxyz', '', '972987654321'),
    ],
    'wa_message_unsupported_error.json': [
        ('message', 'whatsapp', 'inbound', 'unsupported', 'wamid.xyzxyz', '', '972987654321'),
    ],
    'wa_message_video.json': [
        ('message', 'whatsapp', 'inbound', 'video', 'wamid.xyzxyz', 'caption', '972987654321'),
    ],
    'wa_message_voice.json': [
        ('message', 'whatsapp', 'inbound', 'audio', 'wamid.xyzxyz', '', '972987654321'),
    ],
    'wa_status_delivered.json': [
        ('status', 'whatsapp', 'delivered', 'wamid.xyzxyz'),
    ],
    'wa_status_failed.json': [
        ('status', 'whatsapp', 'failed', 'wamid.xyzxyz'),
    ],
    'wa_status_played.json': [
        ('status', 'whatsapp', 'played', 'wamid.xyzxyz'),
    ],
    'wa_status_read.json': [
        ('status', 'whatsapp', 'read', 'wamid.xyzxyz'),
    ],
    'wa_status_sent.json': [
        ('status', 'whatsapp', 'sent', 'wamid.xyzxyz'),
    ],
    'wa_system_phone_number_change.json': [
        ('message', 'whatsapp', 'inbound', 'system', 'wamid.xyzxyz==', 'User A changed from 972987654321 to 9729', '972987654321'),
    ],
    'wa_template_quick_reply_button.json': [
        ('message', 'whatsapp', 'inbound', 'button', 'wamid.xsidjw', 'title', '972987654321'),
    ],
    'fb_comment_hide_toggles.json': [
        ('comment', 'facebook', 'comment', 'hide', '9_1', 'U1'),
        ('comment', 'facebook', 'comment', 'unhide', '9_1', 'U1'),
        ('comment', 'facebook', 'comment', 'hide', '9_1', 'U1'),
        ('feed', 'reaction', 'add', 'PAGE9_1', 'U2'),
        ('feed', 'reaction', 'add', 'PAGE9_1', 'U2'),
    ],
    'fb_feed_reaction_and_edit.json': [
        ('comment', 'facebook', 'comment', 'edited', '55_66', '4455'),
        ('feed', 'reaction', 'add', '1234567890321_55', '4455'),
    ],
    'fb_messenger_batched_read_delivery.json': [
        ('message', 'messenger', 'inbound', 'text', 'm_IN_3', 'ok, lo quiero en azul', 'USER_9'),
        ('status', 'messenger', 'delivered', 'm_OUT_1'),
        ('status', 'messenger', 'delivered', 'm_OUT_2'),
        ('status', 'messenger', 'read', None),
    ],
    'ig_comment_live_iso_time.json': [
        ('comment', 'instagram', 'comment', 'add', '1790000002', '987654321'),
    ],
    'ig_dm_story_reply_graph_docs.json': [
        ('message', 'instagram', 'inbound', 'text', 'aWdfZAG1faWRfMTc4NDE0MDU4MjIzMDQ5MTQ6MzQwMjgyMzY2', 'cuanto cuesta este? 😍', '1234567890123456'),
    ],
    'ig_messages_in_changes_without_object.json': [
        ('message', 'instagram', 'inbound', 'text', 'random_mid_in_changes', 'random_text', '12334'),
    ],
    'unknown_object.json': [
        ('unparsed', 'nothing recognised'),
    ],
    'wa_batched_entries.json': [
        ('message', 'whatsapp', 'inbound', 'text', 'wamid.BATCH.1', 'Does it come in another color?', '16505551234'),
        ('message', 'whatsapp', 'inbound', 'text', 'wamid.BATCH.2', 'hola, cuanto cuesta el envio a David?', '50761234567'),
        ('status', 'whatsapp', 'read', 'wamid.OUT.7'),
        ('status', 'whatsapp', 'delivered', 'wamid.OUT.7'),
        ('unparsed', 'message_template_status_update'),
    ],
    'wa_dashboard_test_button.json': [
        ('message', 'whatsapp', 'inbound', 'text', 'ABGGFlA5Fpa', 'this is a text message', '16315551181'),
    ],
    'wa_interactive_nfm_reply.json': [
        ('message', 'whatsapp', 'inbound', 'interactive', 'wamid.FLOWREPLY', 'Sent', '16315551234'),
    ],
}


def describe(path: Path) -> list[tuple]:
    parsed = parse_webhook(json.loads(path.read_text()))
    rows: list[tuple] = []
    rows += [("message", m.channel, m.direction, m.message_type, m.external_id, (m.text or "")[:40],
              m.counterpart_external_id) for m in parsed.messages]
    rows += [("status", s.channel, s.status, s.external_message_id) for s in parsed.statuses]
    rows += [("comment", c.channel, c.kind, c.verb, c.external_id, c.author_external_id) for c in parsed.comments]
    rows += [("feed", f.item, f.verb, f.post_external_id, f.author_external_id) for f in parsed.feed]
    rows += [("lead", lead.leadgen_id, lead.form_id) for lead in parsed.leads]
    rows += [("unparsed", u.get("field") or u.get("reason")) for u in parsed.unparsed]
    return rows


@pytest.mark.parametrize("path", meta_fixture_files(), ids=lambda p: p.name)
def test_fixture_normalizes_exactly_as_expected(path: Path) -> None:
    assert path.name in EXPECTED, f"add the expected normalization of {path.name} to EXPECTED"
    assert describe(path) == EXPECTED[path.name]


def test_distinct_events_get_distinct_keys_and_redeliveries_the_same() -> None:
    path = Path(__file__).parents[1] / "fixtures" / "meta" / "fb_comment_hide_toggles.json"
    body = json.loads(path.read_text())
    first = parse_webhook(body)
    keys = [c.dedup_key for c in first.comments] + [f.dedup_key for f in first.feed]
    assert len(set(keys)) == len(keys), "hide, unhide, hide again and reactions on two comments are 5 events"
    again = parse_webhook(json.loads(path.read_text()))
    assert [c.dedup_key for c in again.comments] + [f.dedup_key for f in again.feed] == keys
