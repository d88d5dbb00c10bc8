"""The chat hub: the parts of the live chat composed, and the life of a connection.

The parts, each with its own state and tests: the relay (relay.py: ciphertext,
sequence numbers, the resume backlog), queue and assignment (assignment.py),
read-along (readalong.py) and handover (handover.py); what they share is in
room.py. The hub keeps what spans them: who is connected (a page that goes away
has a grace period to come back), the end of a chat, the queue's picture for every
page, and the methods the websocket handlers call. Refusals are `ChatRefused`
(errors.py); `server/chat/ws.py` turns them into error frames.

All state is in memory. A chat is forgotten (its ciphertext backlog included)
as soon as it ends; a server restart ends every chat, and both pages are told.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

import crypto

from ..config import Config
from .announce import announcer
from .assignment import AddWrapup, Assignment
from .errors import ChatRefused
from .handover import Handover, Handovers
from .queue import ChatState
from .readalong import ReadAlong, ReadAlongs
from .relay import FrameObserver, Relay
from .room import (CLOSE_REPLACED, TO_SEEKER, TO_VOLUNTEER, TOLD_SEEKER_AWAY, TOLD_VOLUNTEER_AWAY, Chat, Room,
                   VolunteerInfo, chat_key, close, send)

AWAY_NOTICE_SECONDS = 3.0  # a page back sooner (a blip, a node's drain) is not announced to the other side

__all__ = ["CHAT_HUB", "Chat", "ChatHub", "FrameObserver", "VolunteerInfo", "send"]


class ChatHub:
    def __init__(self, config: Config, *, add_wrapup: AddWrapup, clock: Callable[[], float] = time.monotonic,
                 observer: FrameObserver | None = None, stats: Any = None) -> None:
        self.config = config
        self.room = Room(config, clock, stats)
        self.relay = Relay(self.room, observer)
        self.assignment = Assignment(self.room, add_wrapup=add_wrapup, notify=self.queue_changed)
        self.readalong = ReadAlongs(self.room, self.relay)
        self.handover = Handovers(self.room, self.relay, self.assignment, self.readalong, notify=self.queue_changed)
        self.queue = self.room.queue
        self.chats = self.room.chats
        self.volunteers = self.room.volunteers
        # The `connected` frame of every answered chat, by chat id, for its life: a help-seeker's page that
        # was away when its chat was answered (or whose dead socket was not noticed yet) gets it again when
        # it resumes (resume_seeker). Not in a cluster's Redis (it carries the volunteer's name): a page that
        # resumes with a new leader without it ends the chat plainly (web/js/chat.js `resumed`).
        self.connected_frames: dict[bytes, dict[str, Any]] = {}

    # A part is named in the singular (`self.handover`), what it has under way in the plural.

    @property
    def readalongs(self) -> dict[bytes, ReadAlong]:
        """The read-alongs under way, by link id."""
        return self.readalong.by_link

    @property
    def handovers(self) -> dict[bytes, Handover]:
        """The handovers under way, by the chat's new id."""
        return self.handover.by_new_id

    @property
    def clock(self) -> Callable[[], float]:
        return self.room.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.room.clock = clock

    # -- help-seekers -----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return self.assignment.status()

    def figures(self) -> dict[str, Any]:
        """The coordinator's live chat figures: counts only."""
        queue = self.room.queue
        waiting = queue.waiting()
        longest = max(0, int(self.clock() - waiting[0].arrived)) if waiting else None
        in_progress = sum(1 for e in queue.entries.values() if e.state is ChatState.ACTIVE)
        # Who is on duty, each figure counting one thing: volunteers and mentors who take new chats now
        # (available, not on a break); partners (such as 113) who take handed-over chats; mentors online
        # (for a read-along or a debrief, whether or not they also take chats).
        mentors_online = sum(1 for v in self.room.volunteers.values() if v.ws is not None and v.role == "mentor")
        partner_waiting = sum(1 for h in self.handover.by_new_id.values()
                              if h.kind == "partner" and h.state in ("waiting", "offered"))
        return {"waiting": len(waiting), "longest_wait_s": longest, "in_progress": in_progress,
                "volunteers_available": queue.available_volunteers(),
                "partners_available": len(self.handover.partner_available), "mentors_online": mentors_online,
                "handovers_waiting_for_partner": partner_waiting}

    async def open_chat(self, ws: web.WebSocketResponse, seeker_public: bytes,
                        address_tags: tuple[bytes, bytes]) -> Chat:
        return await self.assignment.open_chat(ws, seeker_public, address_tags)

    async def seeker_message(self, chat: Chat, frame: dict[str, Any]) -> None:
        if not await self.relay.seeker_message(chat, frame):
            await self.end_chat(chat, "timeout")

    async def seeker_mentor_message(self, chat: Chat, frame: dict[str, Any]) -> None:
        await self.readalong.seeker_message(chat, frame)

    async def mentor_key(self, chat: Chat, frame: dict[str, Any]) -> None:
        await self.readalong.mentor_key(chat, frame)

    async def handover_answer(self, chat: Chat, frame: dict[str, Any]) -> None:
        await self.handover.answer(chat, frame)

    async def resume_seeker(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> Chat | None:
        room = self.room
        chat, former = self.handover.find(frame["chat"])
        if chat is None or not crypto.constant_time_equal(chat.resume_hash, crypto.hash_token(frame["resume"])):
            await send(ws, {"t": "ended", "reason": "unknown"})
            return None
        old, chat.seeker, chat.seeker_away = chat.seeker, ws, None
        room.cancel(chat, "seeker")
        room.cancel(chat, "seeker-away")
        if old is not None and old is not ws:
            room.spawn(close(old, CLOSE_REPLACED, b"resumed elsewhere"))
        entry = room.queue.entries.get(chat.id)
        state = entry.state.value if entry else "ended"
        received = frame["received"]
        if former and chat.handed_over_frame is not None:
            # Handed over while the page was away: it resumes with the old id and must hear of the new
            # chat first (its unsent frames belong to the old session: the page drops them).
            await send(ws, chat.handed_over_frame)
            received = 0
        # `acked`: the page's own messages the relay has; the page sends the later ones again.
        await send(ws, {"t": "resumed", "state": state, "position": room.queue.position(chat.id) or 0,
                        "acked": chat.sent[TO_VOLUNTEER]})
        connected = self.connected_frames.get(chat.id)
        if (connected is not None and not former and state == "active" and received == 0
                and chat.sent[TO_VOLUNTEER] == 0):
            # Answered while the page was away (or its dead socket not yet noticed), and nothing sealed went
            # either way since: the page may never have had this frame. A page that has its session drops it.
            await send(ws, connected)
        await self.relay.replay(chat, TO_SEEKER, ws, received)
        if chat.volunteer_id is not None and chat.away_told & TOLD_SEEKER_AWAY:
            chat.away_told &= ~TOLD_SEEKER_AWAY
            await send(room.socket_of(chat.volunteer_id), {"t": "peer-back", "chat": chat.key})
        return chat

    def seeker_left(self, chat: Chat, ws: web.WebSocketResponse) -> None:
        room = self.room
        if chat.seeker is not ws or chat.id not in room.chats:
            return
        chat.seeker, chat.seeker_away = None, room.clock()
        self.seeker_away(chat)

    def seeker_away(self, chat: Chat) -> None:
        """The help-seeker's page is gone: its grace period runs (`chat_seeker_grace_seconds`, longer than a
        volunteer's: a phone in a pocket or another app for a few minutes must not end the chat); the
        volunteer hears of it only if it is not back within AWAY_NOTICE_SECONDS (a reconnect after a
        node's drain takes less), and may carry on with other chats meanwhile."""
        room = self.room
        room.later(chat, "seeker-away", AWAY_NOTICE_SECONDS, self._tell_seeker_away)
        room.later(chat, "seeker", self.config.chat_seeker_grace_seconds, self._seeker_grace_over)

    async def _tell_seeker_away(self, chat: Chat) -> None:
        if chat.seeker is None and chat.volunteer_id is not None and chat.id in self.room.chats:
            chat.away_told |= TOLD_SEEKER_AWAY
            await send(self.room.socket_of(chat.volunteer_id), {"t": "peer-away", "chat": chat.key})

    async def _seeker_grace_over(self, chat: Chat) -> None:
        if chat.seeker is None and chat.id in self.room.chats:
            await self.end_chat(chat, "timeout")

    # -- volunteers -------------------------------------------------------------------------------

    async def volunteer_connected(self, info: VolunteerInfo, ws: web.WebSocketResponse) -> None:
        known = self.room.volunteers.get(info.id)
        if known is not None and known.ws is not None and known.ws is not ws:
            # One connection per volunteer: the newest wins; the old page must not reconnect.
            self.room.spawn(close(known.ws, CLOSE_REPLACED, b"replaced by a newer connection"))
        self.room.volunteers[info.id] = info
        info.ws = ws
        info.key_status = self.key_status(info)
        await self.queue_changed()  # colleagues see who is online (for a handover or a read-along)
        await send(ws, {"t": "keys", "status": info.key_status})  # the key gate's word (issue 17), after the queue

    # -- the key gate (issue 17) --------------------------------------------------------------------

    def attach_log(self, log: Any) -> None:
        """This node's transparency log: every volunteer's status comes from it, and a change of the
        usable checkpoint re-evaluates them all (`keys_changed`). Attached once, by the first session."""
        if log is None or self.room.log is log:
            return
        self.room.log = log
        log.on_change(self.keys_changed)

    def key_status(self, info: VolunteerInfo) -> str:
        """The log's word on this volunteer's keys: only "ready" (a root-signed statement of exactly
        these keys in a checkpoint the help-seekers' pages accept) takes chats."""
        log = self.room.log
        if log is None:
            return "pending"
        return str(log.status_for(info.account_id))

    async def keys_changed(self) -> None:
        """The log's usable checkpoint changed: every volunteer online is looked at again; whoever's
        status changed is told (`keys` frame) and becomes available (or stops being so) as asked."""
        changed = False
        for info in list(self.room.volunteers.values()):
            status = self.key_status(info)
            if status == info.key_status:
                continue
            info.key_status = status
            changed = True
            if info.ws is None:
                continue
            await self._apply_available(info)
            await send(info.ws, {"t": "keys", "status": status})
        if changed:
            await self.queue_changed()

    async def _apply_available(self, info: VolunteerInfo) -> None:
        """What the page asked (`info.wants`), as far as the key gate allows."""
        taking = info.wants and info.key_ready
        if info.role == "partner":
            await self.handover.set_partner_available(info, taking)
        else:
            self.assignment.set_available(info, taking)

    def _require_keys(self, info: VolunteerInfo | None, code: str = "keys-pending",
                      key: str = "chat_keys_pending") -> None:
        if info is None or not info.key_ready:
            raise ChatRefused(code, key)

    async def volunteer_left(self, info: VolunteerInfo, ws: web.WebSocketResponse) -> None:
        room = self.room
        if info.ws is not ws:
            return
        info.ws = None
        room.queue.went_offline(info.id)
        self.handover.partner_available.discard(info.id)
        await self.readalong.staff_gone(info.id)
        self.handover.staff_gone(info.id)
        for chat in room.chats_of(info.id):
            chat.volunteer_away = room.clock()
            self.volunteer_away(chat)
        await self.queue_changed()

    def volunteer_away(self, chat: Chat) -> None:
        """The volunteer's page is gone: as `seeker_away`, the other way round."""
        room = self.room
        room.later(chat, "volunteer-away", AWAY_NOTICE_SECONDS, self._tell_volunteer_away)
        room.later(chat, "volunteer", self.config.chat_grace_seconds, self._volunteer_grace_over)

    async def _tell_volunteer_away(self, chat: Chat) -> None:
        if chat.volunteer_away is not None and chat.id in self.room.chats:
            chat.away_told |= TOLD_VOLUNTEER_AWAY
            await send(chat.seeker, {"t": "peer-away"})

    async def _volunteer_grace_over(self, chat: Chat) -> None:
        if chat.volunteer_away is not None and chat.id in self.room.chats:
            await self.end_chat(chat, "timeout")

    async def resume_volunteer(self, info: VolunteerInfo, held: list[dict[str, Any]]) -> None:
        """The volunteer's page (back after a blip) says which chats it still holds keys for."""
        holding = {item["chat"]: item["received"] for item in held}
        mine = self.room.chats_of(info.id)
        for chat_id in holding.keys() - {chat.id for chat in mine}:
            # A chat the page holds that is gone here (ended while the page was away): say so.
            await send(info.ws, {"t": "ended", "chat": chat_key(chat_id), "reason": "unknown", "wrapup": False})
        for chat in mine:
            if chat.id not in holding:
                await self.end_chat(chat, "volunteer-left")  # the page lost its keys (reload): end cleanly
                continue
            chat.volunteer_away = None
            self.room.cancel(chat, "volunteer")
            self.room.cancel(chat, "volunteer-away")
            if chat.away_told & TOLD_VOLUNTEER_AWAY:
                chat.away_told &= ~TOLD_VOLUNTEER_AWAY
                await send(chat.seeker, {"t": "peer-back"})
            await send(info.ws, {"t": "resumed", "chat": chat.key, "acked": chat.sent[TO_SEEKER]})
            await self.relay.replay(chat, TO_VOLUNTEER, info.ws, holding[chat.id])
        await self.send_queue(info)

    async def set_available(self, info: VolunteerInfo, available: bool) -> None:
        info.wants = available
        taking = available and info.key_ready  # the key gate: connected, but not available until ready
        if info.role == "partner":
            await self.handover.set_partner_available(info, taking)
        else:
            self.assignment.set_available(info, taking)
        await self.queue_changed()

    async def set_paused(self, info: VolunteerInfo, paused: bool) -> None:
        """A break (issue 15): no new chat and no handover is offered to this volunteer; the open chats,
        read-alongs and mail stay as they are. Not counted in the statistics."""
        self.room.queue.set_paused(info.id, paused)
        if paused:
            self.handover.return_offers(info.id)
        await self.queue_changed()

    async def debrief(self, info: VolunteerInfo) -> None:
        """Ask every mentor online to get in touch: the sender's first name only, never anything of a chat."""
        mentors = [v for v in self.room.volunteers.values()
                   if v.ws is not None and v.role == "mentor" and v.id != info.id]
        if not mentors:
            raise ChatRefused("no-mentor", "chat_no_mentor_online")
        name = info.name.split(" ")[0][:40]
        for mentor in mentors:
            await send(mentor.ws, {"t": "debrief-ask", "from": name})
        self.room.count("chat_debrief")
        await send(info.ws, {"t": "debrief-sent", "mentors": len(mentors)})

    async def pick_up(self, info: VolunteerInfo) -> None:
        self._require_keys(info)
        if self.room.queue.slot(info.id).paused:
            raise ChatRefused("paused", "chat_paused")
        handover = self.handover.next_for(info)
        if handover is not None:
            await self.handover.offer(info, handover)
            return
        await self.assignment.pick_up(info)

    async def accept(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        connected = await self.assignment.accept(info, frame)
        chat = self.room.chats.get(frame["chat"])
        if chat is None:
            return
        # The same frame Assignment.accept sent to the page (with its key proof), kept for a resume (see __init__).
        self.connected_frames[chat.id] = connected
        if chat.seeker is None and not chat.away_told & TOLD_SEEKER_AWAY:
            # Answered while the help-seeker's page is away (a phone in a pocket while waiting): the
            # volunteer hears so now, and "peer-back" when the page resumes.
            chat.away_told |= TOLD_SEEKER_AWAY
            await send(info.ws, {"t": "peer-away", "chat": chat.key})

    def chat_of(self, info: VolunteerInfo, chat_id: bytes) -> Chat:
        return self.room.chat_of(info, chat_id)

    async def volunteer_message(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        chat = self.room.chat_of(info, frame["chat"])
        if not await self.relay.volunteer_message(chat, frame):
            await self.end_chat(chat, "timeout")

    async def wrapup(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        await self.assignment.wrapup(info, frame)

    async def link_message(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        await self.relay.link_message(info, frame)

    async def invite_mentor(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        mentor = self.room.online(frame["mentor"])
        if mentor is not None and not mentor.key_ready:
            raise ChatRefused("colleague-keys", "chat_colleague_keys_pending")  # the page would refuse the key
        await self.readalong.invite(info, frame)

    async def mentor_accept(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        self._require_keys(info)
        await self.readalong.accept(info, frame)

    async def mentor_stop(self, info: VolunteerInfo, frame: dict[str, Any], reason: str) -> None:
        await self.readalong.stop(info, frame, reason)

    async def request_handover(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        kind, _, target = frame["target"].partition(":")
        if kind == "v" and target.isdigit() and self.room.queue.slot(int(target)).paused:
            raise ChatRefused("colleague-paused", "chat_colleague_paused")  # on a break: nothing new for them
        colleague = self.room.online(int(target)) if kind == "v" and target.isdigit() else None
        if colleague is not None and not colleague.key_ready:
            raise ChatRefused("colleague-keys", "chat_colleague_keys_pending")
        await self.handover.request(info, frame)

    async def cancel_handover(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        await self.handover.cancel(info, frame)

    async def accept_handover(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        self._require_keys(info)
        await self.handover.accept(info, frame)
        # A chat handed over has a new id and is never `connected` again: forget the old frames.
        for chat_id in self.connected_frames.keys() - self.room.chats.keys():
            del self.connected_frames[chat_id]

    # -- shared -----------------------------------------------------------------------------------

    async def end_chat(self, chat: Chat, reason: str) -> None:
        room = self.room
        if room.chats.pop(chat.id, None) is None:
            return
        for name in list(chat.timers):
            room.cancel(chat, name)
        await self.readalong.end_for(chat, "chat-ended")
        await self.handover.end_for(chat)
        volunteer_id, was_active = self.assignment.finish(chat, reason)
        self.relay.forget(chat)
        self.connected_frames.pop(chat.id, None)
        if volunteer_id is not None:
            await send(room.socket_of(volunteer_id),
                       {"t": "ended", "chat": chat.key, "reason": reason, "wrapup": was_active})
        await send(chat.seeker, {"t": "ended", "reason": reason})
        if chat.seeker is not None:
            # Closing waits for the peer's answer: never hold up the caller for it.
            room.spawn(close(chat.seeker))
        await self.queue_changed()

    async def queue_changed(self) -> None:
        """Tell waiting help-seekers their position and volunteers the queue, coalesced (announce.py):
        at most one frame per page per 250 ms, the first change after a quiet spell at once and the
        rest merged into one frame at the window's end, built from the state of that moment. A queue
        frame carries `colleagues` only when that list changed for the page (always in the first frame
        on a connection); a frame without it means the page's list is still right. A help-seeker gets
        a `position` frame only when its position or estimate changed."""
        await announcer(self).changed()

    async def send_queue(self, info: VolunteerInfo) -> None:
        """This volunteer's queue frame (after a resume), in turn with every other page's (announce.py)."""
        await announcer(self).refresh(info)

    async def shutdown(self) -> None:
        """A restart ends every chat: tell both sides plainly, then close.

        The queue's picture is not announced for every chat that ends (with n chats that made a
        restart O(n²)): the announcer is closed first, its pending window cancelled, and the
        pages are told only that the chat ended."""
        announcer(self).close()
        for chat in list(self.room.chats.values()):
            await self.end_chat(chat, "restart")
        for info in self.room.volunteers.values():
            if info.ws is not None:
                with contextlib.suppress(Exception):
                    await info.ws.close(code=1012, message=b"server restart")
        for task in list(self.room.tasks):
            task.cancel()


CHAT_HUB: web.AppKey[ChatHub] = web.AppKey("chat_hub")
