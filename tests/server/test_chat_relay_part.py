"""The relay on its own (server/chat/relay.py): order, the frames as sent, the resume backlog, staff links.

End to end over real websockets the same rules are pinned in test_chat_relay.py; here the
relay is driven through its API, with a real Room and stand-in pages (test_chat_room.py).
"""

from __future__ import annotations

import pytest

import crypto
from server.chat.queue import ChatState
from server.chat.relay import BACKLOG_KEEP, BACKLOG_MAX, Relay
from server.chat.room import TO_SEEKER, TO_VOLUNTEER, Room
from tests.server.test_chat_room import Page, active_chat, online, refused, room, storage  # noqa: F401 (fixtures)

CT = crypto.b64encode(bytes(272))  # the size of one padded message: 256 + 16


def msg(seq: int, **more: object) -> dict[str, object]:
    return {"t": "msg", "seq": seq, "ct": CT, **more}


def lmsg(link_id: bytes, seq: int) -> dict[str, object]:
    return {"t": "lmsg", "link": link_id, "seq": seq, "ct": CT}


async def test_messages_go_both_ways_in_order_as_compact_frames(room: Room) -> None:
    seen: list[tuple[int, str]] = []
    relay = Relay(room, lambda d, t: seen.append((d, t)))
    sanne, volunteer_page = online(room, 1)
    chat, seeker_page = active_chat(room, sanne)
    assert await relay.seeker_message(chat, msg(1))
    assert await relay.volunteer_message(chat, msg(1, chat=chat.id))
    assert await relay.volunteer_message(chat, msg(2, chat=chat.id))
    assert volunteer_page.texts == [f'{{"t":"msg","chat":"{chat.key}","seq":1,"ct":"{CT}"}}']
    assert seeker_page.texts == [f'{{"t":"msg","seq":{n},"ct":"{CT}"}}' for n in (1, 2)]
    # The observer sees exactly what was sent, and that is only ciphertext.
    assert seen == [(TO_VOLUNTEER, volunteer_page.texts[0])] + [(TO_SEEKER, t) for t in seeker_page.texts]


@pytest.mark.parametrize("seq", [0, 2, 1])  # 1 again: a replay of the first
async def test_a_replayed_or_skipped_number_is_refused_and_changes_nothing(room: Room, seq: int) -> None:
    relay = Relay(room)
    sanne, volunteer_page = online(room, 1)
    chat, _ = active_chat(room, sanne)
    if seq == 1:
        await relay.seeker_message(chat, msg(1))
        volunteer_page.take()
    with refused("out-of-order", "chat_out_of_order"):
        await relay.seeker_message(chat, msg(seq))
    assert volunteer_page.texts == [] and chat.sent[TO_VOLUNTEER] == (1 if seq == 1 else 0)


async def test_nothing_is_relayed_before_a_volunteer_answered(room: Room) -> None:
    relay = Relay(room)
    sanne, volunteer_page = online(room, 1)
    chat, _ = active_chat(room, sanne)
    room.queue.entries[chat.id].state = ChatState.OFFERED
    with refused("not-connected", "chat_no_volunteer_yet"):
        await relay.seeker_message(chat, msg(1))
    assert chat.sent[TO_VOLUNTEER] == 0 and not chat.backlog[TO_VOLUNTEER]


async def test_a_page_back_after_a_blip_gets_what_it_missed_from_the_short_backlog(room: Room) -> None:
    relay = Relay(room)
    sanne, _ = online(room, 1)
    chat, seeker_page = active_chat(room, sanne)
    for n in range(1, BACKLOG_KEEP + 6):
        await relay.volunteer_message(chat, msg(n, chat=chat.id))
    assert len(chat.backlog[TO_SEEKER]) == BACKLOG_KEEP  # while connected only the last few are kept
    back = Page()
    await relay.replay(chat, TO_SEEKER, back, BACKLOG_KEEP + 2)  # type: ignore[arg-type]
    assert [f["seq"] for f in back.frames] == [BACKLOG_KEEP + 3, BACKLOG_KEEP + 4, BACKLOG_KEEP + 5]
    assert back.texts == seeker_page.texts[-3:]  # the same bytes as the first time


async def test_while_the_receiver_is_away_the_backlog_grows_to_its_cap_and_then_the_chat_must_end(room: Room) -> None:
    relay = Relay(room)
    sanne, volunteer_page = online(room, 1)
    chat, _ = active_chat(room, sanne)
    chat.volunteer_away = room.clock()
    for n in range(1, BACKLOG_MAX + 1):
        assert await relay.seeker_message(chat, msg(n))
    sent = len(volunteer_page.texts)
    assert not await relay.seeker_message(chat, msg(BACKLOG_MAX + 1))  # one too many: the hub ends the chat
    assert len(volunteer_page.texts) == sent  # and the one too many was not sent


async def test_a_new_session_numbers_from_one_and_keeps_nothing_old(room: Room) -> None:
    relay = Relay(room)
    sanne, _ = online(room, 1)
    chat, _ = active_chat(room, sanne)
    await relay.seeker_message(chat, msg(1))
    await relay.volunteer_message(chat, msg(1, chat=chat.id))
    relay.restart(chat)
    assert chat.sent == {TO_VOLUNTEER: 0, TO_SEEKER: 0} and not any(chat.backlog.values())
    assert await relay.seeker_message(chat, msg(1))


async def test_a_staff_link_carries_messages_both_ways_in_order(room: Room) -> None:
    seen: list[tuple[int, str]] = []
    relay = Relay(room, lambda d, t: seen.append((d, t)))
    sanne, sanne_page = online(room, 1)
    mila, mila_page = online(room, 2, "Mila", "mentor")
    link = relay.new_link(bytes([9]) * 16, sanne.id, mila.id, "read-along")
    await relay.link_message(sanne, lmsg(link.id, 1))
    await relay.link_message(mila, lmsg(link.id, 1))
    assert mila_page.texts == [f'{{"t":"lmsg","link":"{link.key}","seq":1,"ct":"{CT}"}}'] == sanne_page.texts
    assert [d for d, _ in seen] == [TO_VOLUNTEER, TO_SEEKER]  # inviter to joiner, then back
    with refused("out-of-order", "chat_out_of_order"):
        await relay.link_message(sanne, lmsg(link.id, 1))


async def test_a_link_refuses_strangers_a_taken_id_and_messages_before_it_starts(room: Room) -> None:
    relay = Relay(room)
    sanne, _ = online(room, 1)
    mila, _ = online(room, 2, "Mila", "mentor")
    mark, _ = online(room, 3, "Mark")
    chat, _ = active_chat(room, sanne)
    link = relay.new_link(bytes([9]) * 16, sanne.id, mila.id, "read-along", started=False)
    for link_id in (link.id, chat.id):  # a link id may be neither another link's nor a chat's
        with refused("link-taken", "chat_link_taken"):
            relay.new_link(link_id, sanne.id, mila.id, "read-along")
    frame = lmsg(link.id, 1)
    with refused("unknown-link", "chat_unknown_link"):
        await relay.link_message(mark, frame)
    with refused("not-yet", "chat_readalong_not_started"):
        await relay.link_message(sanne, frame)


async def test_a_handover_link_carries_one_note_from_the_sender_only(room: Room) -> None:
    relay = Relay(room)
    sanne, _ = online(room, 1)
    noor, noor_page = online(room, 2, "Noor")
    link = relay.new_link(bytes([9]) * 16, sanne.id, noor.id, "handover")
    with refused("one-way", "chat_link_one_way"):
        await relay.link_message(noor, lmsg(link.id, 1))
    await relay.link_message(sanne, lmsg(link.id, 1))
    assert len(noor_page.texts) == 1 and link.id not in relay.links  # the note was the link's one message
    with refused("unknown-link", "chat_unknown_link"):
        await relay.link_message(sanne, lmsg(link.id, 2))


async def test_a_staff_member_who_leaves_takes_their_handover_links_along(room: Room) -> None:
    relay = Relay(room)
    sanne, _ = online(room, 1)
    noor, _ = online(room, 2, "Noor")
    note = relay.new_link(bytes([8]) * 16, sanne.id, noor.id, "handover")
    reading = relay.new_link(bytes([9]) * 16, sanne.id, noor.id, "read-along")
    relay.drop_links(noor.id, "handover")
    assert note.id not in relay.links and reading.id in relay.links
