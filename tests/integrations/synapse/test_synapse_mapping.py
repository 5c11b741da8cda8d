"""Matrix callbacks -> contract events (docs/synapse.md has the table)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkguard.events import (
    Block, ContactAdd, GroupCreate, GroupJoin, Message, Register, Report, decode_line, encode_event,
)
from bulkguard.integrations.synapse.digest import text_digest
from bulkguard.integrations.synapse.mapping import (
    NEW_ROOM_WINDOW, CheckEventForSpam, ClientEvent, EventReport, FederatedUserMayInvite,
    IgnoredUsers, Rooms, UserMayCreateRoom, UserMayInvite, UserMayJoinRoom, UserRegistered,
    message_kind, on_create_room, on_event, on_federated_invite, on_ignored, on_invite, on_join,
    on_registered, on_report, report_reason,
)

A, B, C, D = "@alice:hs", "@bob:hs", "@carol:hs", "@dave:hs"


def text(room: str, sender: str, body: str, ts: int | None = 5_000, msgtype: str = "m.text") -> CheckEventForSpam:
    return CheckEventForSpam(event=ClientEvent(type="m.room.message", room_id=room, sender=sender,
                                               origin_server_ts=ts,
                                               content={"msgtype": msgtype, "body": body}))


def new_room(rooms: Rooms, creator: str, room: str, invitees: list[str], now: float = 1.0) -> list:
    out = on_create_room(rooms, UserMayCreateRoom(user_id=creator), now)
    for i in invitees:
        out += on_invite(rooms, UserMayInvite(inviter=creator, invitee=i, room_id=room), now)
    return out


def test_invite_to_a_new_dm_is_a_first_message_and_messages_go_to_the_other_person() -> None:
    rooms = Rooms()
    assert new_room(rooms, A, "!dm", [B]) == [Message(ts=1.0, sender=A, recipient=B)]
    [m] = on_event(rooms, text("!dm", A, "Hello Bob"), now=9.0)
    assert (m.sender, m.recipient, m.group, m.kind, m.size) == (A, B, None, "text", 9)
    assert m.ts == 5.0   # origin_server_ts, in seconds
    assert m.digest == text_digest("Hello Bob", mask=["bob"])
    # the invitee accepts: the closest Matrix has to adding a contact; then replies
    assert on_join(rooms, UserMayJoinRoom(user=B, room="!dm", is_invited=True), 10.0) == [
        ContactAdd(ts=10.0, account=B, contact=A)]
    [r] = on_event(rooms, text("!dm", B, "hi!", ts=None), now=11.0)
    assert (r.sender, r.recipient, r.ts) == (B, A, 11.0)


def test_a_third_person_makes_a_group() -> None:
    rooms = Rooms()
    out = new_room(rooms, A, "!g", [B, C, D], now=2.0)
    assert out == [
        Message(ts=2.0, sender=A, recipient=B),
        GroupCreate(ts=2.0, account=A, group="!g"),
        GroupJoin(ts=2.0, group="!g", member=B, added_by=A),
        GroupJoin(ts=2.0, group="!g", member=C, added_by=A),
        GroupJoin(ts=2.0, group="!g", member=D, added_by=A),
    ]
    [m] = on_event(rooms, text("!g", A, "welcome"), now=3.0)
    assert (m.group, m.recipient) == ("!g", None)
    assert on_join(rooms, UserMayJoinRoom(user=C, room="!g", is_invited=True), 4.0) == []
    assert on_join(rooms, UserMayJoinRoom(user="@eve:hs", room="!g"), 4.0) == [
        GroupJoin(ts=4.0, group="!g", member="@eve:hs")]
    assert rooms.rooms["!g"].members == []   # a group's members are not kept


def test_a_room_joined_by_a_third_person_becomes_a_group() -> None:
    rooms = Rooms()
    new_room(rooms, A, "!r", [B])
    out = on_join(rooms, UserMayJoinRoom(user=C, room="!r"), 3.0)
    assert out == [GroupCreate(ts=3.0, account=A, group="!r"),
                   GroupJoin(ts=3.0, group="!r", member=B, added_by=A),
                   GroupJoin(ts=3.0, group="!r", member=C)]


def test_rooms_bulkguard_did_not_see_created_are_groups() -> None:
    rooms = Rooms()
    assert on_invite(rooms, UserMayInvite(inviter=A, invitee=B, room_id="!old"), 1.0) == [
        GroupJoin(ts=1.0, group="!old", member=B, added_by=A)]
    [m] = on_event(rooms, text("!old2", A, "hi"), 1.0)
    assert m.group == "!old2"
    # a room creation too long before the invite does not make the invite a DM
    on_create_room(rooms, UserMayCreateRoom(user_id=C), 1.0)
    [j] = on_invite(rooms, UserMayInvite(inviter=C, invitee=D, room_id="!x"), 2.0 + NEW_ROOM_WINDOW)
    assert isinstance(j, GroupJoin)


def test_encrypted_messages_have_no_digest_and_no_kind() -> None:
    rooms = Rooms()
    new_room(rooms, A, "!e", [B])
    ev = ClientEvent(type="m.room.encrypted", room_id="!e", sender=A, origin_server_ts=7_000,
                     content={"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEn..."})
    [m] = on_event(rooms, CheckEventForSpam(event=ev), 8.0)
    assert (m.recipient, m.digest, m.kind, m.size) == (B, None, None, None)


@pytest.mark.parametrize("content,kind", [
    ({"msgtype": "m.text", "body": "see https://x.example"}, "link"),
    ({"msgtype": "m.notice", "body": "hello"}, "text"),
    ({"msgtype": "m.image", "body": "cat.png", "info": {"size": 2048}}, "image"),
    ({"msgtype": "m.file", "body": "cv.pdf"}, "document"),
    ({"msgtype": "m.location", "body": "here", "geo_uri": "geo:1,2"}, "other"),
])
def test_message_kinds(content: dict, kind: str) -> None:
    ev = ClientEvent(type="m.room.message", room_id="!r", sender=A, content=content)
    assert message_kind(ev) == kind
    [m] = on_event(Rooms(), CheckEventForSpam(event=ev), 1.0)
    assert (m.digest is not None) == (content["msgtype"] in ("m.text", "m.notice"))
    if kind == "image":
        assert m.size == 2048


def test_state_events_and_reactions_are_not_messages() -> None:
    for t in ("m.room.name", "m.reaction", "m.room.redaction", "m.call.invite"):
        ev = ClientEvent(type=t, room_id="!r", sender=A, content={})
        assert on_event(Rooms(), CheckEventForSpam(event=ev), 1.0) == []


def test_federated_invite_is_an_invite_from_the_remote_user() -> None:
    ev = ClientEvent(type="m.room.member", room_id="!f", sender="@spam:evil.example", state_key=B,
                     origin_server_ts=3_000, content={"membership": "invite", "is_direct": True})
    assert on_federated_invite(Rooms(), FederatedUserMayInvite(event=ev), 9.0) == [
        GroupJoin(ts=3.0, group="!f", member=B, added_by="@spam:evil.example")]


def test_registration_keeps_the_last_address_and_agent() -> None:
    body = UserRegistered(user_id=A, request_info=[("Element/1", "10.0.0.1"), (None, "10.0.0.2")])
    assert on_registered(body, 5.0) == [Register(ts=5.0, account=A, ip="10.0.0.2", client="Element/1")]
    assert on_registered(UserRegistered(user_id=B), 5.0) == [Register(ts=5.0, account=B)]


def test_ignores_are_blocks_once() -> None:
    rooms = Rooms()
    assert on_ignored(rooms, IgnoredUsers(user_id=A, ignored=[C, B]), 1.0) == [
        Block(ts=1.0, blocker=A, blocked=B), Block(ts=1.0, blocker=A, blocked=C)]
    assert on_ignored(rooms, IgnoredUsers(user_id=A, ignored=[B, C, A]), 2.0) == []
    assert on_ignored(rooms, IgnoredUsers(user_id=A, ignored=[]), 3.0) == []
    assert on_ignored(rooms, IgnoredUsers(user_id=A, ignored=[B]), 4.0) == [Block(ts=4.0, blocker=A, blocked=B)]


def test_event_reports_are_reports_with_the_shared_text() -> None:
    rep = EventReport(id=1, received_ts=12_000, room_id="!r", event_id="$e", user_id=B, sender=A,
                      reason="this is spam")
    assert on_report(rep, "buy now") == [
        Report(ts=12.0, reporter=B, reported=A, reason="spam", messages=["buy now"])]
    assert on_report(msgspec.structs.replace(rep, sender=None), None) == []
    assert on_report(msgspec.structs.replace(rep, sender=B), None) == []   # reporting oneself
    assert report_reason("phishing!") == "scam" and report_reason("  ") is None


def test_bodies_are_validated_with_the_field_named() -> None:
    with pytest.raises(msgspec.ValidationError, match="invitee"):
        msgspec.json.decode(b'{"inviter": "@a:hs", "room_id": "!r"}', type=UserMayInvite)
    body = msgspec.json.decode(b'{"inviter": "@a:hs", "invitee": "@b:hs", "room_id": "!r", "new": 1}',
                               type=UserMayInvite)
    assert body.invitee == "@b:hs"   # fields Synapse adds later are ignored


def test_the_room_book_is_bounded() -> None:
    rooms = Rooms(max_rooms=3)
    for i in range(10):
        new_room(rooms, A, f"!r{i}", [B])
    assert list(rooms.rooms) == ["!r7", "!r8", "!r9"]


# -- any sequence of callbacks gives valid contract events ---------------------------------------
USERS = st.sampled_from([A, B, C, D, "@eve:hs"])
ROOMS = st.sampled_from(["!r1", "!r2", "!r3"])
BODIES = st.text(max_size=40)
CALLBACKS = st.one_of(
    st.builds(UserMayCreateRoom, user_id=USERS),
    st.builds(UserMayInvite, inviter=USERS, invitee=USERS, room_id=ROOMS),
    st.builds(UserMayJoinRoom, user=USERS, room=ROOMS, is_invited=st.booleans()),
    st.builds(lambda r, s, b, enc: CheckEventForSpam(event=ClientEvent(
        type="m.room.encrypted" if enc else "m.room.message", room_id=r, sender=s,
        content={"ciphertext": b} if enc else {"msgtype": "m.text", "body": b})),
        ROOMS, USERS, BODIES, st.booleans()),
    st.builds(IgnoredUsers, user_id=USERS, ignored=st.lists(USERS, max_size=3)),
)


def apply(rooms: Rooms, cb: object, now: float) -> list:
    if isinstance(cb, UserMayCreateRoom):
        return on_create_room(rooms, cb, now)
    if isinstance(cb, UserMayInvite):
        return on_invite(rooms, cb, now)
    if isinstance(cb, UserMayJoinRoom):
        return on_join(rooms, cb, now)
    if isinstance(cb, CheckEventForSpam):
        return on_event(rooms, cb, now, origin_ts=False)
    assert isinstance(cb, IgnoredUsers)
    return on_ignored(rooms, cb, now)


@given(st.lists(CALLBACKS, max_size=40))
@settings(max_examples=300)
def test_any_callback_sequence_gives_valid_contract_events(cbs: list) -> None:
    rooms = Rooms()
    for i, cb in enumerate(cbs):
        for ev in apply(rooms, cb, float(i)):
            assert decode_line(encode_event(ev)) == ev      # valid under the contract
            if isinstance(ev, Message):
                if isinstance(cb, CheckEventForSpam) and cb.event.type == "m.room.encrypted":
                    assert ev.digest is None
                if ev.recipient is not None:
                    assert ev.recipient != ev.sender
        for room in rooms.rooms.values():
            assert len(room.members) <= 2 and (not room.group or room.members == [])
