"""The Slack app: `/promise`, check-in and draft buttons, over HTTP or Socket Mode.

Slack gives an app 3 seconds to answer. Every listener acknowledges first; what needs a
database write that can wait, a users.info look-up or a post runs after the answer in a
Bolt lazy listener, which replies through the request's response_url. Blocking database
work runs in worker threads so one slow request never holds up the others' answers.
Over HTTP, `reliability.slack_http` checks size, signature and shape before Bolt sees a
request. The listeners are thin: parse, call `reliability.slack_actions`, show.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from reliability import compose, slack_actions, slack_views, suggestions
from reliability.calendar import CalendarError
from reliability.deadlines import DeadlineError
from reliability.drafting.reasons import moment_words
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import Member
from reliability.phrases import say
from reliability.slack_commands import (
    Help,
    Log,
    SealError,
    Unwatch,
    Watch,
    parse,
    unseal,
)
from reliability.slack_views import Reply, submitted

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
T = TypeVar("T")
EXPECTED = (UserError, DeadlineError, CalendarError, SealError)
MATCH_SECONDS = 2  # to match a caller to a member by their Slack email before the echo
NOT_CONFIGURED = ("Slack is not configured: set RELIABILITY_SLACK__SIGNING_SECRET and "
                  "RELIABILITY_SLACK__BOT_TOKEN (see the README's Slack section)")
CHECKIN_ACTION = re.compile(r"^checkin_(on_track|at_risk|blocked|done)$")

# The draft editor's block for each field a service error names.
EDIT_BLOCKS = {"text": "text", "due": "date"}

def utc_now() -> datetime:
    return datetime.now(UTC)


class SlackNotConfigured(UserError):
    """The Slack settings this way of running needs are missing."""


def socket_mode_handler(ledger: Ledger, *, clock: Clock = utc_now) -> AsyncSocketModeHandler:
    """The Slack app on a Socket Mode connection, which Slack opens for apps without a URL."""
    slack = ledger.settings.slack
    if slack.app_token is None or slack.bot_token is None:
        raise SlackNotConfigured(
            "Socket Mode needs RELIABILITY_SLACK__APP_TOKEN (xapp-…, with connections:write) "
            "and RELIABILITY_SLACK__BOT_TOKEN (see the README's Slack section)")
    app = build(ledger, clock=clock, socket_mode=True)
    return AsyncSocketModeHandler(app, slack.app_token.get_secret_value())


def run_socket_mode(ledger: Ledger) -> None:
    """Serve the Slack app over Socket Mode until interrupted (no public URL needed)."""
    handler = socket_mode_handler(ledger)
    asyncio.run(handler.start_async())


def build(ledger: Ledger, *, clock: Clock = utc_now, socket_mode: bool = False,
          listeners: Listeners | None = None) -> AsyncApp:
    """The Bolt app for one ledger, its Web API client pointed at `slack.base_url`.

    Requests reach it verified (by `slack_http` over HTTP, by the connection in Socket Mode),
    and who the app is comes from its configuration: no `auth.test` before an answer.
    """
    slack = ledger.settings.slack
    if slack.bot_token is None or (slack.signing_secret is None and not socket_mode):
        raise SlackNotConfigured(NOT_CONFIGURED)
    token = slack.bot_token.get_secret_value()

    async def authorize(enterprise_id: str | None, team_id: str | None,
                        user_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id,
                               bot_token=token)

    app = AsyncApp(
        request_verification_enabled=False,
        authorize=authorize,
        client=AsyncWebClient(base_url=slack.base_url),
        process_before_response=True,
        logger=log,
    )
    (listeners or listeners_for(ledger, clock)).attach(app)
    return app


def listeners_for(ledger: Ledger, clock: Clock = utc_now) -> Listeners:
    """The listeners, sealing buttons with the signing secret (the bot token in Socket Mode)."""
    slack = ledger.settings.slack
    secret = slack.signing_secret or slack.bot_token
    if secret is None:
        raise SlackNotConfigured(NOT_CONFIGURED)
    return Listeners(ledger, clock, secret.get_secret_value())


class Listeners:
    """Every listener of the app; `ack_*` answer Slack, the others run after the answer."""

    def __init__(self, ledger: Ledger, clock: Clock, secret: str) -> None:
        self.ledger = ledger
        self.clock = clock
        self.secret = secret

    def attach(self, app: AsyncApp) -> None:
        # Help and the echo are the answer itself; only the other sub-commands need work
        # after it, so only they pay for a lazy listener.
        app.command("/promise", matchers=[_answered_later])(ack=self.ack,
                                                            lazy=[self.run_command])
        app.command("/promise")(self.ack_command)
        # The echo's second confirm carries the likely day in place of the one asked.
        app.action(re.compile(r"^promise_confirm(_suggested)?$"))(ack=self.ack,
                                                                  lazy=[self.confirm])
        app.action("promise_cancel")(ack=self.ack, lazy=[self.cancel_proposal])
        app.action("promise_change_date")(ack=self.ack, lazy=[self.open_change_date])
        app.view("promise_change_date")(ack=self.ack_change_date, lazy=[self.show_new_date])
        app.action("client_add")(ack=self.ack, lazy=[self.open_new_client])
        app.view("client_add")(ack=self.ack_new_client, lazy=[self.show_with_client])
        app.action(CHECKIN_ACTION)(ack=self.ack, lazy=[self.check_in])
        app.action("checkin_note")(ack=self.ack, lazy=[self.open_checkin_note])
        app.view("checkin_note")(ack=self.ack, lazy=[self.save_checkin_note])
        app.action(re.compile(r"^draft_(send|snooze|cancel)$"))(ack=self.ack,
                                                                 lazy=[self.decide_draft])
        app.action("draft_edit")(ack=self.ack, lazy=[self.open_edit_draft])
        app.view("draft_edit")(ack=self.ack_edit_draft, lazy=[self.show_edited_draft])
        # Watched channels and the "Log as promise" shortcut (see slack_views.log_modal).
        app.event("message")(ack=self.ack, lazy=[self.on_message])
        app.shortcut(slack_views.SHORTCUT)(ack=self.ack, lazy=[self.open_shortcut])
        app.action("suggestion_log")(ack=self.ack, lazy=[self.log_offer])
        app.action("suggestion_decline")(ack=self.ack, lazy=[self.decline_offer])
        app.action("suggestion_change")(ack=self.ack, lazy=[self.open_offer_form])
        app.view(slack_views.LOG_FORM)(ack=self.ack_log_form, lazy=[self.save_log_form])
        # A mailed suggestion's Log / Not a promise buttons open the web's confirm page.
        app.action(re.compile(r"^suggestion_link_(log|decline)$"))(self.ack)

    async def ack(self, ack: Any) -> None:
        await ack()

    # -- /promise ---------------------------------------------------------------------

    async def ack_command(self, ack: Any, command: dict[str, Any],
                          client: AsyncWebClient | None = None) -> None:
        """Help, or the echo of a promise with its buttons (`client`: Bolt's, or one made
        here for the HTTP endpoint's echo process)."""
        parsed = parse(command.get("text") or "")
        by = command["user_id"]
        if isinstance(parsed, Log):
            owner = parsed.owner_user_id or by
            member = await self._matched(client or self._client(), by)
            locale = slack_actions.reader_locale(self.ledger, member, _carried_locale(command))
            # Inline, not in a worker thread: one indexed read and pure parsing take about a
            # millisecond, less than a thread hop costs under load (the GIL hand-over).
            reply = self._inline(lambda: slack_actions.understand(
                self.ledger, parsed.text, owner_user_id=owner, by_user_id=by,
                member=member is not None, now=self.clock(), secret=self.secret,
                locale=locale), locale)
            await ack(**_with_help_hint(reply, locale).message())
        else:
            locale = self._locale(by, command)
            note = (say(locale, parsed.note, percent=parsed.percent)
                    if isinstance(parsed, Help) and parsed.note else "")
            await ack(**slack_views.help_reply(locale, note).message())

    async def run_command(self, command: dict[str, Any], respond: Any,
                          client: AsyncWebClient) -> None:
        parsed = parse(command.get("text") or "")
        if isinstance(parsed, Help | Log):
            return
        channel = str(command.get("channel_id") or "")

        def work(member: Member) -> Reply:
            if isinstance(parsed, Watch):
                return slack_actions.watch_channel(self.ledger, member, channel, parsed.client,
                                                   now=self.clock())
            if isinstance(parsed, Unwatch):
                return slack_actions.unwatch_channel(self.ledger, member, channel,
                                                     now=self.clock())
            return slack_actions.run(self.ledger, parsed, member=member, now=self.clock())

        reply = await self._as_member(client, command["user_id"], work, command)
        await respond(**reply.message())

    async def confirm(self, body: dict[str, Any], action: dict[str, Any], respond: Any,
                      client: AsyncWebClient) -> None:
        user_id = body["user"]["id"]

        async def store() -> Reply:
            proposal = unseal(action["value"], self.secret)
            mine = proposal.owner_user_id == user_id
            locale = await asyncio.to_thread(self._locale, user_id, body)
            await asyncio.to_thread(slack_actions.newcomers_client, self.ledger, proposal,
                                    locale)
            by = await self._member(client, user_id, create=mine)
            owner = by if mine else await self._member(client, proposal.owner_user_id)
            return await asyncio.to_thread(slack_actions.confirm, self.ledger, proposal,
                                           owner=owner, by=by, now=self.clock())

        reply = await self._guarded_async(store, user_id, body)
        await respond(replace_original=not reply.failed, **reply.message())

    async def cancel_proposal(self, body: dict[str, Any], respond: Any) -> None:
        locale = await asyncio.to_thread(self._locale, body["user"]["id"], body)
        await respond(replace_original=True, text=say(locale, "cancelled"))

    async def open_change_date(self, body: dict[str, Any], action: dict[str, Any],
                               respond: Any, client: AsyncWebClient) -> None:
        async def view() -> dict[str, Any]:
            proposal = unseal(action["value"], self.secret)
            locale = await asyncio.to_thread(self._locale, body["user"]["id"], body)
            current = await asyncio.to_thread(slack_actions.current_due, self.ledger, proposal,
                                               self.clock(), locale)
            return slack_views.change_date_modal(
                title=proposal.title, current=current, locale=locale,
                meta={"value": action["value"], "response_url": body.get("response_url")})

        await self._open(client, body, respond, view)

    async def ack_change_date(self, ack: Any, body: dict[str, Any],
                              view: dict[str, Any]) -> None:
        reply_or_error = await self._new_date(body, view)
        if isinstance(reply_or_error, str):
            await ack(response_action="errors", errors={"when": reply_or_error})
        else:
            await ack()

    async def show_new_date(self, body: dict[str, Any], view: dict[str, Any]) -> None:
        reply = await self._new_date(body, view)
        if isinstance(reply, Reply):
            await _post(slack_actions.parse_meta(view.get("private_metadata")), reply)

    async def _new_date(self, body: dict[str, Any], view: dict[str, Any]) -> Reply | str:
        meta = slack_actions.parse_meta(view.get("private_metadata"))
        try:
            proposal = unseal(str(meta.get("value")), self.secret)
            locale = await asyncio.to_thread(self._locale, body["user"]["id"], body)
            return await asyncio.to_thread(
                slack_actions.with_new_date, self.ledger, proposal,
                submitted(view, "when") or "", now=self.clock(), secret=self.secret,
                locale=locale)
        except EXPECTED as exc:
            return str(exc)[:300]

    async def open_new_client(self, body: dict[str, Any], action: dict[str, Any], respond: Any,
                              client: AsyncWebClient) -> None:
        async def view() -> dict[str, Any]:
            proposal = unseal(action["value"], self.secret)
            locale = await asyncio.to_thread(self._locale, body["user"]["id"], body)
            return slack_views.new_client_modal(
                name=proposal.client_hint or "", locale=locale,
                timezone=self.ledger.settings.calendar.default_timezone,
                meta={"value": action["value"], "response_url": body.get("response_url")})

        await self._open(client, body, respond, view)

    async def ack_new_client(self, ack: Any, body: dict[str, Any], view: dict[str, Any],
                             client: AsyncWebClient) -> None:
        """Added here, because a wrong email must be shown in the form, not after it."""
        values = {block: submitted(view, block)
                  for block in ("name", "email", "contact", "locale", "timezone", "country")}
        try:
            member = await self._member(client, body["user"]["id"])
            await asyncio.to_thread(slack_actions.add_client, self.ledger, values,
                                    by=member, now=self.clock())
        except EXPECTED as exc:
            field = getattr(exc, "field", None)
            await ack(response_action="errors",
                      errors={field if field in values else "name": str(exc)[:300]})
            return
        except Exception:
            log.exception("adding a client from Slack failed")
            await ack(response_action="errors", errors={"name": await self._sorry(body)})
            return
        await ack()

    async def show_with_client(self, body: dict[str, Any], view: dict[str, Any]) -> None:
        """After a form that was accepted; a refused one is still open and says why."""
        meta = slack_actions.parse_meta(view.get("private_metadata"))
        name = submitted(view, "name") or ""
        if not await asyncio.to_thread(slack_actions.client_exists, self.ledger, name):
            return

        async def preview() -> Reply:
            proposal = unseal(str(meta.get("value")), self.secret)
            locale = await asyncio.to_thread(self._locale, body["user"]["id"], body)
            return await asyncio.to_thread(slack_actions.with_client, self.ledger, proposal,
                                           name, now=self.clock(), secret=self.secret,
                                           locale=locale)

        await _post(meta, await self._guarded_async(preview, body["user"]["id"], body))

    # -- check-ins ----------------------------------------------------------------------

    async def check_in(self, body: dict[str, Any], action: dict[str, Any], respond: Any,
                       client: AsyncWebClient) -> None:
        found = CHECKIN_ACTION.match(action["action_id"])
        assert found is not None
        status, promise_id = found.group(1), _number(action.get("value"))
        question = _question(body)
        now = self.clock()

        def record(member: Member) -> Reply:
            slack_actions.check_in(self.ledger, member, promise_id, status, now=now)
            locale = compose.member_locale(self.ledger.settings, member)
            return slack_views.checkin_recorded(
                question=question, status=status, promise_id=promise_id, locale=locale,
                when=moment_words(now, locale, timezone=member.timezone, now=now))

        reply = await self._as_member(client, body["user"]["id"], record)
        await respond(replace_original=not reply.failed, **reply.message())

    async def open_checkin_note(self, body: dict[str, Any], action: dict[str, Any],
                                respond: Any, client: AsyncWebClient) -> None:
        promise_text, _, status = str(action.get("value", "")).partition(":")
        promise_id = _number(promise_text)

        async def view() -> dict[str, Any]:
            member = await self._member(client, body["user"]["id"])
            title = await asyncio.to_thread(slack_actions.checkin_note_target, self.ledger,
                                            member, promise_id)
            return slack_views.checkin_note_modal(
                promise_id=promise_id, status=status, title=title,
                locale=slack_actions.reader_locale(self.ledger, member),
                meta={"response_url": body.get("response_url"),
                      "question": _question(body)[:1500]})

        await self._open(client, body, respond, view)

    async def save_checkin_note(self, body: dict[str, Any], view: dict[str, Any],
                                client: AsyncWebClient) -> None:
        meta = slack_actions.parse_meta(view.get("private_metadata"))
        promise_id, status = _number(meta.get("promise_id")), str(meta.get("status"))
        note, progress = submitted(view, "note"), submitted(view, "progress")
        client_reason = submitted(view, "client_reason")
        now = self.clock()

        def record(member: Member) -> Reply:
            slack_actions.check_in(self.ledger, member, promise_id, status, now=now, note=note,
                                   progress=int(progress) if progress else None,
                                   client_reason=client_reason)
            locale = compose.member_locale(self.ledger.settings, member)
            return slack_views.checkin_recorded(
                question=str(meta.get("question", "")), status=status, promise_id=promise_id,
                when=moment_words(now, locale, timezone=member.timezone, now=now), note=note,
                locale=locale)

        await _post(meta, await self._as_member(client, body["user"]["id"], record))

    # -- drafts -------------------------------------------------------------------------

    async def decide_draft(self, body: dict[str, Any], action: dict[str, Any], respond: Any,
                           client: AsyncWebClient) -> None:
        decide = {"draft_send": slack_actions.send_draft,
                  "draft_snooze": slack_actions.snooze_draft,
                  "draft_cancel": slack_actions.cancel_draft}[action["action_id"]]
        notice_id = _number(action.get("value"))
        reply = await self._as_member(client, body["user"]["id"], lambda member: decide(
            self.ledger, member, notice_id, now=self.clock()))
        await respond(replace_original=not reply.failed, **reply.message())

    async def open_edit_draft(self, body: dict[str, Any], action: dict[str, Any], respond: Any,
                              client: AsyncWebClient) -> None:
        notice_id = _number(action.get("value"))

        async def view() -> dict[str, Any]:
            member = await self._member(client, body["user"]["id"])
            text, day = await asyncio.to_thread(slack_actions.draft_for_editing, self.ledger,
                                                member, notice_id)
            container = body.get("container") or {}
            return slack_views.edit_draft_modal(
                notice_id=notice_id, text=text, proposed_day=day,
                locale=slack_actions.reader_locale(self.ledger, member),
                meta={"channel": container.get("channel_id"), "ts": container.get("message_ts"),
                      "response_url": body.get("response_url")})

        await self._open(client, body, respond, view)

    async def ack_edit_draft(self, ack: Any, body: dict[str, Any], view: dict[str, Any],
                             client: AsyncWebClient) -> None:
        """Saved here, because a date the service refuses must be shown in the form."""
        meta = slack_actions.parse_meta(view.get("private_metadata"))
        day = submitted(view, "date")
        try:
            member = await self._member(client, body["user"]["id"])
            await asyncio.to_thread(
                slack_actions.edit_draft, self.ledger, member, _number(meta.get("notice_id")),
                text=submitted(view, "text"), day=date.fromisoformat(day) if day else None,
                now=self.clock())
        except EXPECTED as exc:
            await ack(response_action="errors",
                      errors={EDIT_BLOCKS.get(getattr(exc, "field", None), "text"):
                              str(exc)[:300]})
            return
        except Exception:
            log.exception("editing a draft from Slack failed")
            await ack(response_action="errors", errors={"text": await self._sorry(body)})
            return
        await ack()

    async def show_edited_draft(self, body: dict[str, Any], view: dict[str, Any],
                                client: AsyncWebClient) -> None:
        meta = slack_actions.parse_meta(view.get("private_metadata"))
        notice_id = _number(meta.get("notice_id"))
        reply = await self._as_member(client, body["user"]["id"], lambda member: (
            slack_actions.review(self.ledger, member, notice_id, now=self.clock())))
        if meta.get("channel") and meta.get("ts"):
            await client.chat_update(channel=meta["channel"], ts=meta["ts"], **reply.message())
        else:
            await _post(meta, reply)

    # -- watched channels, offers and the "Log as promise" shortcut -----------------------

    async def on_message(self, body: dict[str, Any], event: dict[str, Any],
                         client: AsyncWebClient) -> None:
        """A message in a channel the app is in: offered to the person it concerns when the
        channel is watched and it holds a promise or a request; otherwise nothing."""
        message = _channel_message(body, event)
        if message is None or await asyncio.to_thread(
                suggestions.watched_client, self.ledger, message.channel_id) is None:
            return
        # A colleague who has not used the app yet is matched by their Slack email, so
        # their promise is not taken for a client's request.
        await self._matched(client, message.user_id)
        try:
            found = await asyncio.to_thread(slack_actions.offer_from_message, self.ledger,
                                            message, now=self.clock())
        except EXPECTED as exc:
            log.warning("a watched message could not be offered: %s", type(exc).__name__)
            return
        if found is None:
            return
        user_id, reply = found
        try:
            await _tell(client, message.channel_id, user_id, reply)
        except (SlackApiError, OSError, aiohttp.ClientError) as exc:
            # The offer stays open (and expires unanswered): the person can still log it.
            log.warning("could not show an offer in Slack: %s", type(exc).__name__)

    async def open_shortcut(self, body: dict[str, Any], respond: Any,
                            client: AsyncWebClient) -> None:
        async def view() -> dict[str, Any]:
            member = await self._member(client, body["user"]["id"])
            message = body.get("message") or {}
            return await asyncio.to_thread(
                slack_actions.shortcut_form, self.ledger, member, str(message.get("text") or ""),
                channel_id=(body.get("channel") or {}).get("id"), now=self.clock(),
                meta={"response_url": body.get("response_url")})

        await self._open(client, body, respond, view)

    async def log_offer(self, body: dict[str, Any], action: dict[str, Any], respond: Any,
                        client: AsyncWebClient) -> None:
        suggestion_id = _number(action.get("value"))
        reply = await self._as_member(client, body["user"]["id"], lambda member: (
            slack_actions.accept_offer(self.ledger, member, suggestion_id, now=self.clock())))
        await respond(replace_original=not reply.failed, **reply.message())

    async def decline_offer(self, body: dict[str, Any], action: dict[str, Any], respond: Any,
                            client: AsyncWebClient) -> None:
        suggestion_id = _number(action.get("value"))
        reply = await self._as_member(client, body["user"]["id"], lambda member: (
            slack_actions.decline_offer(self.ledger, member, suggestion_id, now=self.clock())))
        await respond(replace_original=not reply.failed, **reply.message())

    async def open_offer_form(self, body: dict[str, Any], action: dict[str, Any],
                              respond: Any, client: AsyncWebClient) -> None:
        suggestion_id = _number(action.get("value"))

        async def view() -> dict[str, Any]:
            member = await self._member(client, body["user"]["id"])
            return await asyncio.to_thread(
                slack_actions.offer_form, self.ledger, member, suggestion_id,
                {"response_url": body.get("response_url"), "replace": True})

        await self._open(client, body, respond, view)

    async def ack_log_form(self, ack: Any, body: dict[str, Any], view: dict[str, Any],
                           client: AsyncWebClient) -> None:
        """Checked here, because a wrong client or date must be shown in the form."""
        values = _log_values(view)
        try:
            member = await self._member(client, body["user"]["id"])
            await asyncio.to_thread(slack_actions.read_log_form, self.ledger, values,
                                    now=self.clock(),
                                    locale=slack_actions.reader_locale(self.ledger, member))
        except EXPECTED as exc:
            field = getattr(exc, "field", None)
            await ack(response_action="errors",
                      errors={field if field in values else "what": str(exc)[:300]})
            return
        await ack()

    async def save_log_form(self, body: dict[str, Any], view: dict[str, Any],
                            client: AsyncWebClient) -> None:
        meta = slack_actions.parse_meta(view.get("private_metadata"))
        values = _log_values(view)
        reply = await self._as_member(client, body["user"]["id"], lambda member: (
            slack_actions.log_from_form(self.ledger, member, values, meta, now=self.clock())))
        url = meta.get("response_url")
        if url:
            await AsyncWebhookClient(str(url)).send(
                replace_original=bool(meta.get("replace")) and not reply.failed,
                **reply.message())

    # -- plumbing -----------------------------------------------------------------------

    async def _member(self, client: AsyncWebClient, user_id: str, *,
                      create: bool = False) -> Member:
        """The member behind a Slack user, matched from users.info on first use (and added,
        with `create`, to own a promise of their own)."""
        member = await asyncio.to_thread(self.ledger.member_by_slack_id, user_id)
        if member is not None:
            return member
        try:
            found = await client.users_info(user=user_id, include_locale=True)
        except SlackApiError as exc:
            raise UserError(say(slack_actions.reader_locale(self.ledger, None), "lookup_failed",
                                user=user_id, error=exc.response.get("error"))) from None
        user = slack_actions.SlackUser.from_api(found["user"])
        return await asyncio.to_thread(slack_actions.enrol, self.ledger, user, now=self.clock(),
                                       create=create)

    def _client(self) -> AsyncWebClient:
        slack = self.ledger.settings.slack
        token = slack.bot_token.get_secret_value() if slack.bot_token else None
        return AsyncWebClient(token=token, base_url=slack.base_url)

    async def _matched(self, client: AsyncWebClient, user_id: str) -> Member | None:
        """The member: by Slack id (one indexed read), else once by the email in their
        Slack profile, as any sub-command would, if Slack answers in MATCH_SECONDS."""
        member = self.ledger.member_by_slack_id(user_id)
        if member is not None:
            return member
        try:
            return await asyncio.wait_for(self._member(client, user_id), MATCH_SECONDS)
        except (*EXPECTED, OSError, aiohttp.ClientError, TimeoutError):
            return None  # Slack unreachable too: echoed as for a newcomer, safely

    def _locale(self, user_id: str, body: dict[str, Any] | None = None) -> str:
        """The language of the Slack user behind a request (see `reader_locale`)."""
        return slack_actions.reader_locale(self.ledger, self.ledger.member_by_slack_id(user_id),
                                           _carried_locale(body or {}))

    async def _sorry(self, body: dict[str, Any]) -> str:
        """Our failure, said to the person in their language."""
        user = str((body.get("user") or {}).get("id") or body.get("user_id") or "")
        return say(await asyncio.to_thread(self._locale, user, body), "sorry")

    async def _as_member(self, client: AsyncWebClient, user_id: str,
                         work: Callable[[Member], Reply],
                         body: dict[str, Any] | None = None) -> Reply:
        async def run() -> Reply:
            member = await self._member(client, user_id)
            return await asyncio.to_thread(work, member)

        return await self._guarded_async(run, user_id, body)

    @staticmethod
    def _inline(work: Callable[[], Reply], locale: str) -> Reply:
        try:
            return work()
        except EXPECTED as exc:
            return slack_views.failure(str(exc))
        except Exception:
            log.exception("a Slack request failed")
            return slack_views.failure(say(locale, "sorry"))

    async def _guarded_async(self, work: Callable[[], Any], user_id: str,
                             body: dict[str, Any] | None = None) -> Reply:
        """Any failure becomes a reply for the person: their mistake in their words, ours
        as an apology in their language (and a log line for whoever runs the app)."""
        try:
            reply = await work()
            assert isinstance(reply, Reply)
            return reply
        except EXPECTED as exc:
            return slack_views.failure(str(exc))
        except Exception:
            log.exception("a Slack request failed")
            return slack_views.failure(await self._sorry({**(body or {}), "user_id": user_id}))

    async def _open(self, client: AsyncWebClient, body: dict[str, Any], respond: Any,
                    view: Callable[[], Any]) -> None:
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=await view())
        except EXPECTED as exc:
            await respond(replace_original=False, text=str(exc))
        except Exception:
            log.exception("opening a Slack modal failed")
            await respond(replace_original=False, text=await self._sorry(body))


def _channel_message(body: dict[str, Any],
                     event: dict[str, Any]) -> suggestions.SlackMessage | None:
    """A person's new message in a channel; None for bots, edits, deletions, broadcasts of a
    thread reply (the reply itself came already) and anything without words."""
    if event.get("subtype") or event.get("bot_id") or event.get("channel_type") not in (
            "channel", "group", None):
        return None
    fields = (event.get("channel"), event.get("ts"), event.get("user"), event.get("text"))
    if not all(isinstance(value, str) and value for value in fields):
        return None
    channel, ts, user, text = (str(value) for value in fields)
    team = str(body.get("team_id") or event.get("team") or "")
    return suggestions.SlackMessage(team_id=team, channel_id=channel, ts=ts, user_id=user,
                                    text=text)


async def _tell(client: AsyncWebClient, channel_id: str, user_id: str, reply: Reply) -> None:
    """Only that person sees it: an ephemeral message in the channel, or a DM when Slack
    will not show them one there (they left it, say)."""
    try:
        await client.chat_postEphemeral(channel=channel_id, user=user_id, **reply.message())
    except SlackApiError:
        opened = await client.conversations_open(users=user_id)
        await client.chat_postMessage(channel=opened["channel"]["id"], **reply.message())


def _log_values(view: dict[str, Any]) -> dict[str, str | None]:
    return {block: submitted(view, block) for block in ("what", "client", "when")}


async def _answered_later(command: dict[str, Any]) -> bool:
    """A sub-command that reads or changes the ledger as the caller: answered after the ack."""
    return not isinstance(parse(command.get("text") or ""), Help | Log)


def _with_help_hint(reply: Reply, locale: str) -> Reply:
    """A line the app could not use also says where the full list of commands is."""
    if reply.blocks and reply.blocks[-1].get("type") == "actions":
        return reply
    return Reply(reply.text, [*reply.message()["blocks"],
                              slack_views.context(say(locale, "help_hint"))])


def _carried_locale(body: dict[str, Any]) -> str | None:
    """Slack's language for the person, when the request carries it (`locale` beside the
    user, or on a payload's user); most requests do not."""
    user = body.get("user")
    found = (user.get("locale") if isinstance(user, dict) else None) or body.get("locale")
    return found if isinstance(found, str) and found else None


def _number(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise UserError("this button is damaged; run the command again") from None


def _question(body: dict[str, Any]) -> str:
    """The first section of the message a button sits in: what was asked."""
    message = body.get("message") or {}
    for block in message.get("blocks") or []:
        if block.get("type") == "section":
            return str((block.get("text") or {}).get("text", ""))
    return str(message.get("text", ""))


async def _post(meta: dict[str, Any], reply: Reply) -> None:
    """Replace the message a modal was opened from, through its response_url."""
    url = meta.get("response_url")
    if url:
        await AsyncWebhookClient(str(url)).send(replace_original=True, **reply.message())


# -- drafts offered in the owner's DM --------------------------------------------------------


def offer_drafts(ledger: Ledger, *, now: datetime) -> list[int]:
    """Queue each draft's offer to its owner's DM in the outbox, which delivers it like any
    other message (claimed, once); the ids of the drafts queued. Without Slack, none."""
    if ledger.settings.slack.bot_token is None:
        return []
    return slack_actions.queue_offers(ledger, now=now)


