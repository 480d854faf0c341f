"""The page and Instagram endpoints the publisher and the comment responder call, replayed with respx in Meta's
documented shapes: what is sent (path, fields, token), what is read back, and which failures mean "maybe sent"."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from serving.services.channels.graph import GraphClient, GraphError
from serving.services.channels.graph_social import SocialGraph

BASE = "https://graph.example.test"


@pytest.fixture
def social() -> SocialGraph:
    return SocialGraph(GraphClient(BASE, "v21.0"))


def sent(route: respx.Route) -> dict:
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer TOKEN"
    return json.loads(request.content)


@respx.mock
async def test_a_page_photo_returns_the_post_id_comments_refer_to(social: SocialGraph) -> None:
    photo = respx.post(f"{BASE}/v21.0/1029/photos").respond(json={"id": "5551", "post_id": "1029_5551"})
    assert await social.publish_page_post("1029", "Nueva mochila", "https://cdn.x/m.jpg", "TOKEN") == "1029_5551"
    assert sent(photo) == {"url": "https://cdn.x/m.jpg", "caption": "Nueva mochila"}
    feed = respx.post(f"{BASE}/v21.0/1029/feed").respond(json={"id": "1029_5552"})
    assert await social.publish_page_post("1029", "Solo texto", None, "TOKEN") == "1029_5552"
    assert sent(feed) == {"message": "Solo texto"}


@respx.mock
async def test_instagram_publishes_in_two_steps_and_reads_its_quota(social: SocialGraph) -> None:
    container = respx.post(f"{BASE}/v21.0/1784/media").respond(json={"id": "17889"})
    status = respx.get(f"{BASE}/v21.0/17889").respond(json={"status_code": "FINISHED", "id": "17889"})
    publish = respx.post(f"{BASE}/v21.0/1784/media_publish").respond(json={"id": "17920"})
    quota = respx.get(f"{BASE}/v21.0/1784/content_publishing_limit").respond(json={"data": [
        {"quota_usage": 3, "config": {"quota_total": 100, "quota_duration": 86400}}]})
    assert await social.create_media_container("1784", "Hola #moda", "https://cdn.x/a.jpg", "TOKEN") == "17889"
    assert sent(container) == {"caption": "Hola #moda", "image_url": "https://cdn.x/a.jpg"}
    assert await social.container_status("17889", "TOKEN") == "FINISHED"
    assert status.calls.last.request.url.params["fields"] == "status_code"
    assert await social.publish_container("1784", "17889", "TOKEN") == "17920"
    assert sent(publish) == {"creation_id": "17889"}
    usage = await social.publishing_quota("1784", "TOKEN")
    assert (usage.used, usage.total, usage.exhausted) == (3, 100, False)
    assert quota.called
    await social.create_media_container("1784", "Reel", "https://cdn.x/v.mp4?sig=1", "TOKEN")
    assert sent(container) == {"caption": "Reel", "media_type": "REELS", "video_url": "https://cdn.x/v.mp4?sig=1"}


@respx.mock
async def test_comment_replies_private_replies_and_hiding(social: SocialGraph) -> None:
    fb = respx.post(f"{BASE}/v21.0/1029_77/comments").respond(json={"id": "1029_77_1"})
    ig = respx.post(f"{BASE}/v21.0/1790/replies").respond(json={"id": "1791"})
    assert await social.reply_publicly("facebook", "1029_77", "¡Hola!", "TOKEN") == "1029_77_1"
    assert await social.reply_publicly("instagram", "1790", "Hi!", "TOKEN") == "1791"
    assert sent(fb) == {"message": "¡Hola!"} and sent(ig) == {"message": "Hi!"}
    private = respx.post(f"{BASE}/v21.0/1029/messages").respond(json={"recipient_id": "PSID9",
                                                                       "message_id": "m_1"})
    assert await social.reply_privately("1029", "1029_77", "Te escribimos", "TOKEN") == ("m_1", "PSID9")
    assert sent(private) == {"recipient": {"comment_id": "1029_77"}, "message": {"text": "Te escribimos"}}
    hide_fb = respx.post(f"{BASE}/v21.0/1029_78").respond(json={"success": True})
    hide_ig = respx.post(f"{BASE}/v21.0/1792").respond(json={"success": True})
    await social.hide_comment("facebook", "1029_78", "TOKEN")
    await social.hide_comment("instagram", "1792", "TOKEN")
    assert sent(hide_fb) == {"is_hidden": True} and sent(hide_ig) == {"hide": True}


@respx.mock
async def test_failures_say_whether_meta_may_have_acted(social: SocialGraph) -> None:
    respx.post(f"{BASE}/v21.0/1029/feed").mock(side_effect=httpx.ReadTimeout("lost"))
    with pytest.raises(GraphError) as lost:
        await social.publish_page_post("1029", "x", None, "TOKEN")
    assert lost.value.maybe_sent and not lost.value.retryable
    respx.post(f"{BASE}/v21.0/1784/media_publish").respond(400, json={"error": {
        "message": "The media has already been published", "code": 9007}})
    with pytest.raises(GraphError) as refused:
        await social.publish_container("1784", "17889", "TOKEN")
    assert refused.value.code == 9007 and not refused.value.maybe_sent and not refused.value.retryable
    respx.post(f"{BASE}/v21.0/1029/messages").respond(400, json={"error": {
        "message": "Activity already replied to", "code": 10900}})
    with pytest.raises(GraphError) as twice:
        await social.reply_privately("1029", "1029_77", "x", "TOKEN")
    assert twice.value.code == 10900
    respx.post(f"{BASE}/v21.0/1029_79").respond(json={"success": False})
    with pytest.raises(GraphError, match="not confirmed"):
        await social.hide_comment("facebook", "1029_79", "TOKEN")
    respx.post(f"{BASE}/v21.0/1029/photos").respond(json={"success": True})
    with pytest.raises(GraphError) as no_id:
        await social.publish_page_post("1029", "x", "https://cdn.x/m.jpg", "TOKEN")
    assert no_id.value.maybe_sent, "accepted without an id: confirm before sending again"
