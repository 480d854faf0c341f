"""The comment auto-responder (flow 17): plans one action per comment in the pipeline's transaction, then a job
performs it against the Graph API.

Never two replies to one comment: the action row is unique per comment (a redelivery, an edit or a replay finds
it there), and its state is committed before the request; an interrupted public reply is looked for among the
comment's replies before it is sent again, and a private reply Meta says was already sent counts as sent.
Rate limit: at most COMMENT_ACTIONS_PER_HOUR per account; the rest wait for a slot (the job comes back then).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.db.models import (
    ChannelAccount,
    CommentAction,
    Contact,
    ContentPost,
    ContentPublication,
    Conversation,
    Message,
    Product,
    SocialComment,
)
from crm.settings import Settings, get_settings
from serving.services import comment_rules as rules
from serving.services import conversations
from serving.services.automation.events import raise_event
from serving.services.catalog import get_policies
from serving.services.channels.accounts import ACCOUNT_CHANNEL, account_token
from serving.services.channels.graph import GraphError
from serving.services.channels.graph_social import SocialGraph
from serving.services.chat.facts import money
from serving.services.chat.knowledge import policy_answer
from serving.services.content_publisher import CONTENT_QUEUE
from serving.services.handoff import escalate
from serving.services.identity import IDENTITY_KIND, Identity, add_identity, resolve_contact
from serving.services.understanding import Understanding
from serving.services.jobs import defer_job

log = structlog.get_logger(__name__)
ACT_TASK = "act_on_comment"
# The conversation a private reply opens: Facebook comments are answered on Messenger.
DM_CHANNEL = {"facebook": "messenger", "instagram": "instagram"}
# Meta's answer when a comment already has its one private reply.
ALREADY_REPLIED_CODES = {10900}
ACTING = ("public_reply", "private_reply", "hide", "escalate")
IN_FLIGHT = timedelta(seconds=60)  # a request still in flight (the Graph client times out after 10 s)


async def plan(session: AsyncSession, comment: SocialComment, understanding: Understanding | None,
               now: datetime) -> CommentAction | None:
    """Decides what to do with a freshly ingested comment and queues it (None: a decision exists already)."""
    settings = get_settings()
    own = bool(comment.author_external_id) and comment.author_external_id == comment.account_external_id
    if not own and comment.external_id:  # our own reply, whoever Meta says wrote it: its id is one we got back
        own = (await session.scalar(select(CommentAction.id).where(
            CommentAction.channel == comment.channel, CommentAction.external_id == comment.external_id))) is not None
    facts = rules.CommentFacts(
        channel=comment.channel, verb=comment.verb, kind=comment.kind, text=comment.text,
        has_id=bool(comment.external_id), from_own_account=own, created_time=comment.created_time,
        live=bool((comment.payload or {}).get("live")),
        known_account=await _known_account(session, comment.channel, comment.account_external_id))
    if (skip := rules.skip_reason(facts, settings.comment_autoreply_enabled)) is not None:
        log.debug("comments.skipped", comment_id=comment.id, reason=skip)
        return None  # nothing recorded: an edit or a removal must not take the comment's one decision
    existing = (await session.scalars(select(CommentAction.id).where(
        CommentAction.channel == comment.channel, CommentAction.comment_external_id == comment.external_id))).first()
    if existing is not None or understanding is None:
        return None
    understood = await understanding.understand((comment.text or "")[:1000], {"channel": comment.channel,
                                                                              "source": "comment"})
    signals = rules.CommentSignals(intent=understood.intent.primary_intent, sentiment=understood.sentiment.sentiment,
                                   urgency=understood.sentiment.urgency_level, lead_score=understood.lead.score)
    decision = rules.decide(facts, signals, now)
    es = understood.language != "en"
    reply = await _reply_text(session, comment, decision.action, es)
    action = (await session.execute(insert(CommentAction).values(
        comment_id=comment.id, channel=comment.channel, account_external_id=comment.account_external_id,
        comment_external_id=comment.external_id, post_external_id=comment.post_external_id,
        action=decision.action, reason=decision.reason, intent=signals.intent, sentiment=signals.sentiment,
        lead_score=signals.lead_score, language=understood.language, reply_text=reply,
        status="pending" if decision.action in ACTING else "skipped", contact_id=comment.contact_id,
    ).on_conflict_do_nothing(index_elements=["channel", "comment_external_id"]).returning(CommentAction))
    ).scalar_one_or_none()
    if action is None:
        return None
    if comment.contact_id is not None and decision.action == "private_reply":
        contact = await session.get(Contact, comment.contact_id)
        if contact is not None and (contact.lead_score is None or signals.lead_score >= contact.lead_score):
            contact.lead_score, contact.lead_category = signals.lead_score, understood.lead.category
            contact.lead_scored_at = comment.created_time or now
    if action.status == "pending":
        await defer_action(session, action.id, account=comment.account_external_id)
    log.info("comments.planned", action_id=action.id, channel=comment.channel, action=decision.action,
             reason=decision.reason, intent=signals.intent)
    return action


async def _known_account(session: AsyncSession, channel: str, external_id: str) -> bool:
    """We act only for pages and Instagram accounts we manage (not a dashboard test's "0", not a disabled one)."""
    return (await session.scalar(select(ChannelAccount.id).where(
        ChannelAccount.channel == ACCOUNT_CHANNEL[channel], ChannelAccount.external_id == external_id,
        ChannelAccount.status == "active"))) is not None


async def _reply_text(session: AsyncSession, comment: SocialComment, action: str, es: bool) -> str | None:
    product = await _post_product(session, comment)
    if action == "private_reply":
        return rules.private_reply_text(comment.author_name, product, es)
    if action == "escalate":
        return rules.apology_text(comment.author_name, es)
    if action == "public_reply":
        answer = policy_answer(comment.text or "", await get_policies(session), es)
        return rules.public_reply_text(comment.author_name, answer.text if answer else None, product, es)
    return None


async def _post_product(session: AsyncSession, comment: SocialComment) -> rules.ProductFacts | None:
    """The product the commented post promotes, when it came from our calendar and promotes exactly one."""
    if not comment.post_external_id:
        return None
    product_ids = (await session.scalars(
        select(ContentPost.product_ids).join(ContentPublication, ContentPublication.post_id == ContentPost.id)
        .where(ContentPublication.channel == comment.channel,
               ContentPublication.external_id == comment.post_external_id))).first()
    if not product_ids or len(product_ids) != 1:
        return None
    product = await session.get(Product, int(product_ids[0]))
    if product is None or not product.active:
        return None
    return rules.ProductFacts(name=product.name, price=money(product.price, product.currency),
                              in_stock=product.stock > 0)


async def defer_action(session: AsyncSession, action_id: int, account: str, at: datetime | None = None) -> None:
    """The job for one action. Its lock is the action's own: a job waiting for its slot must not hold back the
    account's other comments (a queued job blocks later jobs of the same lock)."""
    await defer_job(session, queue=CONTENT_QUEUE, task=ACT_TASK, lock=f"comment-action:{action_id}",
                    arg="action_id", value=action_id, at=at)


async def perform(sessions: async_sessionmaker[AsyncSession], social: SocialGraph, settings: Settings,
                  action_id: int, now: datetime | None = None) -> str:
    """Carries out one planned action; returns its status afterwards."""
    now = now or datetime.now(UTC)
    async with sessions() as session:
        action = await session.get(CommentAction, action_id, with_for_update=True)
        if action is None or action.status in ("done", "failed", "skipped"):
            return action.status if action else "missing"
        if action.next_attempt_at is not None and action.next_attempt_at > now:
            return action.status  # an early duplicate job: the deferred one comes then
        if (action.status == "sending" and action.next_attempt_at is None and action.started_at is not None
                and now - action.started_at < IN_FLIGHT):
            return action.status  # another job's request is in flight: it settles the row
        token = await account_token(session, action.channel, action.account_external_id, settings)
        target = await _reply_target(session, action)
        if action.status == "sending" and action.action == "public_reply":
            # The last attempt may have reached Meta: our reply would be among the comment's replies.
            try:
                found = await _find_reply(social, action, target, token)
            except GraphError as exc:  # cannot tell yet (or the comment is gone): look again later
                return await _record_failure(sessions, action_id, exc, settings, now, session=session,
                                             confirming=True)
            if found:
                await _finish(session, action, found, None, now)
                await session.commit()
                return "done"
        slot = await _next_slot(session, action.account_external_id, settings, now)
        if slot is not None:
            action.next_attempt_at = slot
            await defer_action(session, action.id, action.account_external_id, slot)
            await session.commit()
            log.info("comments.rate_limited", action_id=action_id, until=slot.isoformat())
            return action.status
        too_old = action.action == "escalate" and await _too_old_for_dm(session, action, now)
        action.status, action.attempts, action.started_at = "sending", action.attempts + 1, now
        action.next_attempt_at = None
        kind, channel, account = action.action, action.channel, action.account_external_id
        comment_id, reply = action.comment_external_id, action.reply_text or ""
        await session.commit()
    try:
        external_id, recipient = await _call(social, kind, channel, account, comment_id, target, reply, token,
                                             too_old)
    except GraphError as exc:
        if kind in ("private_reply", "escalate") and exc.code in ALREADY_REPLIED_CODES:
            external_id, recipient = None, None  # sent by an earlier attempt whose answer was lost
        else:
            return await _record_failure(sessions, action_id, exc, settings, now)
    async with sessions() as session:
        action = await session.get(CommentAction, action_id, with_for_update=True)
        assert action is not None
        await _finish(session, action, external_id, recipient, now, too_old=too_old)
        await session.commit()
    log.info("comments.acted", action_id=action_id, action=kind, channel=channel)
    return "done"


async def _call(social: SocialGraph, kind: str, channel: str, account: str, comment_id: str, target: str,
                reply: str, token: str | None, too_old: bool) -> tuple[str | None, str | None]:
    if kind == "hide":
        await social.hide_comment(channel, comment_id, token)
        return None, None
    if kind == "public_reply":
        return await social.reply_publicly(channel, target, reply, token), None
    if too_old:  # an escalation past the private-reply window: a person answers, nothing is sent
        return None, None
    return await social.reply_privately(account, comment_id, reply, token)


async def _reply_target(session: AsyncSession, action: CommentAction) -> str:
    """Meta threads one level deep: a reply to a reply goes under the top-level comment, so that is where ours is
    posted and looked for."""
    parent = await session.scalar(select(SocialComment.parent_external_id).where(
        SocialComment.id == action.comment_id))
    if parent and parent != action.post_external_id and not parent.startswith(f"{action.account_external_id}_"):
        return parent
    return action.comment_external_id


async def _find_reply(social: SocialGraph, action: CommentAction, target: str, token: str | None) -> str | None:
    """Our reply among the thread's replies, by its text (which names the customer): Meta's `from` on Instagram
    is a scoped id that need not equal our account id."""
    for item in await social.comment_replies(action.channel, target, token):
        if (item.get("message") or item.get("text") or "").strip() == (action.reply_text or "").strip():
            return str(item["id"])
    return None


async def _next_slot(session: AsyncSession, account: str, settings: Settings, now: datetime) -> datetime | None:
    """None when the account may act now; else when the oldest action of the last hour leaves the window."""
    window_start = now - timedelta(hours=1)
    done = (await session.scalars(select(CommentAction.done_at).where(
        CommentAction.account_external_id == account, CommentAction.status == "done",
        CommentAction.done_at > window_start).order_by(CommentAction.done_at))).all()
    if len(done) < settings.comment_actions_per_hour:
        return None
    return done[len(done) - settings.comment_actions_per_hour] + timedelta(hours=1, seconds=1)


async def _too_old_for_dm(session: AsyncSession, action: CommentAction, now: datetime) -> bool:
    created = await session.scalar(select(SocialComment.created_time).where(SocialComment.id == action.comment_id))
    return created is not None and now - created > rules.PRIVATE_REPLY_WINDOW


async def _finish(session: AsyncSession, action: CommentAction, external_id: str | None, recipient: str | None,
                  now: datetime, too_old: bool = False) -> None:
    """Done: a private reply or an escalation also opens the customer's conversation (and its ticket)."""
    action.status, action.external_id, action.done_at, action.last_error = "done", external_id, now, None
    action.recipient_external_id = recipient or action.recipient_external_id
    if recipient and action.action in ("private_reply", "escalate"):
        await _open_conversation(session, action, external_id, recipient, now)
    elif action.action == "escalate":  # no conversation to put a ticket on: the alert flow tells a person
        why = ("too old for a private reply, answer it in public" if too_old else
               "the apology was sent earlier but Meta did not say to whom: find the customer's reply in the inbox")
        await raise_event(session, "alert.raised", "comment_action", action.id, {
            "alert": "complaint_in_comments", "detail": f"{action.channel} comment {action.comment_external_id}: {why}",
            "comment_action_id": action.id})
    if action.action in ("public_reply", "private_reply", "escalate"):
        await raise_event(session, "comment.answered", "comment_action", action.id, {
            "comment_action_id": action.id, "channel": action.channel, "action": action.action,
            "post_external_id": action.post_external_id, "contact_id": action.contact_id,
            "conversation_id": action.conversation_id, "intent": action.intent, "lead_score": action.lead_score})


async def _open_conversation(session: AsyncSession, action: CommentAction, message_id: str | None, recipient: str,
                             now: datetime) -> None:
    """The private reply's recipient (PSID / IGSID) joins the commenter's contact, so their answer in the inbox
    continues this conversation; the reply is its first message."""
    channel = DM_CHANNEL[action.channel]
    identity = Identity(channel, IDENTITY_KIND[channel], recipient)
    if action.contact_id is not None:
        contact = await session.get(Contact, action.contact_id)
        assert contact is not None
        await add_identity(session, contact, identity)
    else:
        contact = await resolve_contact(session, [identity], account_external_id=action.account_external_id)
        action.contact_id = contact.id
    conversation: Conversation = await conversations.open_or_reuse(session, contact.id, channel,
                                                                   action.account_external_id)
    conversations.touch(conversation, now, "outbound")
    conversation.message_count = (conversation.message_count or 0) + 1
    action.conversation_id = conversation.id
    key = message_id or f"comment-reply:{action.id}"
    await session.execute(insert(Message).values(
        channel=channel, dedup_key=key, external_id=message_id, direction="outbound", message_type="text",
        text=action.reply_text, payload={"comment_action_id": action.id}, account_external_id=action.account_external_id,
        counterpart_external_id=recipient, sent_at=now, contact_id=contact.id, conversation_id=conversation.id,
        status="accepted", processed_at=now).on_conflict_do_nothing(index_elements=["channel", "dedup_key"]))
    if action.action == "escalate":
        await escalate(session, get_settings(), conversation=conversation, contact=contact, department="support_team",
                       priority=4, reasons=[f"complaint in a public {action.channel} comment"], trigger=None,
                       language=action.language or "es", policies=await get_policies(session), now=now)


async def _record_failure(sessions: async_sessionmaker[AsyncSession], action_id: int, exc: GraphError,
                          settings: Settings, now: datetime, session: AsyncSession | None = None,
                          confirming: bool = False) -> str:
    """A transient error or a lost answer waits and tries again (a lost answer stays `sending`: the next attempt
    looks for the reply first); anything else, or too many attempts, fails it. A complaint that cannot reach the
    customer privately becomes an alert, so a person still answers it."""
    if session is None:
        async with sessions() as own:
            return await _record_failure(sessions, action_id, exc, settings, now, session=own, confirming=confirming)
    action = await session.get(CommentAction, action_id, with_for_update=True)
    assert action is not None
    action.last_error = str(exc)[:1000]
    # `confirming`: looking for a reply that may have gone out failed; it stays `sending` until we can tell.
    if (exc.retryable or exc.maybe_sent or confirming) and action.attempts < settings.comment_max_attempts:
        action.status = "sending" if (exc.maybe_sent or confirming) else "pending"
        action.next_attempt_at = now + timedelta(minutes=min(60, 2 ** max(1, action.attempts)))
        await defer_action(session, action.id, action.account_external_id, action.next_attempt_at)
    else:
        await give_up(session, action, now)
    await session.commit()
    log.warning("comments.action_failed", action_id=action_id, status=action.status, error=str(exc))
    return action.status


async def give_up(session: AsyncSession, action: CommentAction, now: datetime) -> None:
    action.status = "failed"
    if action.action == "escalate":
        await raise_event(session, "alert.raised", "comment_action", action.id, {
            "alert": "complaint_in_comments", "detail": f"{action.channel} comment {action.comment_external_id}: "
                                                        f"the private apology failed ({action.last_error})",
            "comment_action_id": action.id})


STALLED_ACTIONS_SQL = text("""
SELECT a.id FROM crm.comment_actions a
WHERE a.status IN ('pending', 'sending') AND coalesce(a.next_attempt_at, a.started_at, a.created_at) <= :before
  AND NOT EXISTS (SELECT 1 FROM crm.procrastinate_jobs j WHERE j.task_name = :task
                  AND j.status IN ('todo', 'doing') AND (j.args->>'action_id')::bigint = a.id)
""")


async def requeue_stalled(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Actions whose job is gone (an unexpected error, a worker killed mid-way) get a new one, or are given up
    after COMMENT_MAX_ATTEMPTS: none stays pending or sending for ever."""
    ids = list((await session.scalars(STALLED_ACTIONS_SQL, {"before": now - IN_FLIGHT, "task": ACT_TASK})).all())
    for action_id in ids:
        action = await session.get(CommentAction, action_id, with_for_update=True)
        assert action is not None
        if action.attempts >= settings.comment_max_attempts:
            action.last_error = action.last_error or "gave up: the job kept failing"
            await give_up(session, action, now)
        else:
            await defer_action(session, action.id, action.account_external_id)
    if ids:
        log.warning("comments.stalled_actions_requeued", action_ids=ids)
    return len(ids)
