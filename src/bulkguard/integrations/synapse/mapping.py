"""Matrix activity -> contract events (``../shared/spec/events.md``); the table is in docs/synapse.md.

Synapse tells bulkguard about activity through callbacks (forwarded by
``synapse-http-antispam``, by this package's small module, and read from the Admin API's
event reports). Each ``on_*`` function here turns one callback's JSON body into the
contract events it means. They read and update a :class:`Rooms` book, because a Matrix
callback names a room but not how many people are in it, and a two-person DM is a
conversation with a ``recipient`` while a larger room is a ``group``. Nothing else is
kept: no message text (only its digest), no display names.

What Synapse does not show is unknown, never evidence: login devices, typing times and
contact lists do not exist in Matrix; encrypted messages have no digest; a room that was
created before bulkguard started is unknown, and messages in it are group messages.

>>> rooms = Rooms()
>>> on_create_room(rooms, UserMayCreateRoom(user_id="@a:hs"), now=100.0)
[]
>>> on_invite(rooms, UserMayInvite(inviter="@a:hs", invitee="@b:hs", room_id="!dm"), now=100.5)
[Message(ts=100.5, sender='@a:hs', recipient='@b:hs', group=None, kind=None, size=None, forwarded=0, digest=None, template=None, typing_ms=None)]
>>> ev = ClientEvent(type="m.room.message", room_id="!dm", sender="@a:hs", origin_server_ts=101_000,
...                  content={"msgtype": "m.text", "body": "hi b"})
>>> [(m.recipient, m.kind, m.digest) for m in on_event(rooms, CheckEventForSpam(event=ev), now=101.0)]
[('@b:hs', 'text', '106bce4401410416')]
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final, Optional, Union

import msgspec

from bulkguard.events import (
    Block, ContactAdd, GroupCreate, GroupJoin, Message, MessageKind, Register, Report,
    ReportReason,
)
from bulkguard.integrations.synapse.digest import text_digest

ContractEvent = Union[Register, Message, ContactAdd, GroupCreate, GroupJoin, Block, Report]

NEW_ROOM_WINDOW: Final = 30.0     # an invite this soon after the inviter created a room is into that new room
MAX_ROOMS: Final = 1_000_000      # rooms remembered (oldest forgotten first: they become unknown rooms)
MAX_CLIENT: Final = 200           # characters of a user agent kept as `client`
MESSAGE_TYPES: Final = frozenset({"m.room.message", "m.room.encrypted", "m.sticker"})
_TEXT_TYPES: Final = frozenset({"m.text", "m.notice", "m.emote"})
_KINDS: Final[dict[str, MessageKind]] = {
    "m.image": "image", "m.video": "video", "m.audio": "audio", "m.file": "document",
}
_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)
_PARTS = re.compile(r"[._=/+-]+")


# -- the JSON bodies Synapse sends (synapse-http-antispam: one field per callback argument) ------
class Body(msgspec.Struct, forbid_unknown_fields=False):
    """A callback body; fields Synapse adds later are ignored."""


class Ping(Body):
    id: str


class UserMayInvite(Body):
    inviter: str
    invitee: str
    room_id: str


class UserMayJoinRoom(Body):
    user: str
    room: str
    is_invited: bool = False


class UserMayCreateRoom(Body):
    user_id: str


class CheckLoginForSpam(Body):
    user_id: str
    device_id: Optional[str] = None
    initial_display_name: Optional[str] = None
    request_info: list[tuple[Optional[str], Optional[str]]] = []
    auth_provider_id: Optional[str] = None


class ClientEvent(Body):
    """A Matrix event in the client format (``format_event_for_client_v2``)."""

    type: str
    room_id: str
    sender: str
    content: dict[str, object] = {}
    event_id: Optional[str] = None
    origin_server_ts: Optional[int] = None
    state_key: Optional[str] = None


class CheckEventForSpam(Body):
    event: ClientEvent


class FederatedUserMayInvite(Body):
    event: ClientEvent


# -- the bodies of this package's module (module.py) and of the Admin API -------------------------
class UserRegistered(Body):
    """``module.BulkguardForwarder``: a local account was created."""

    user_id: str
    # (user agent, IP) pairs Synapse saw during the registration, as check_registration_for_spam has them
    request_info: list[tuple[Optional[str], Optional[str]]] = []


class IgnoredUsers(Body):
    """``module.BulkguardForwarder``: a user's ``m.ignored_user_list`` changed; the whole new list."""

    user_id: str
    ignored: list[str]


class EventReport(Body):
    """One item of ``GET /_synapse/admin/v1/event_reports`` (plus the reported text, if fetched)."""

    id: int
    received_ts: int
    room_id: str
    event_id: str
    user_id: str                      # the reporter
    sender: Optional[str] = None      # of the reported event (None if Synapse no longer has it)
    reason: Optional[str] = None      # free text typed by the reporter
    score: Optional[int] = None


# -- what the mapping remembers -------------------------------------------------------------------
@dataclass(slots=True)
class Room:
    """A room created while bulkguard watched. ``members`` (user, added_by) while it has at most
    two people; once a third arrives it is a group and its members are no longer kept."""

    members: list[tuple[str, Optional[str]]] = field(default_factory=list)
    group: bool = False

    def has(self, user: str) -> bool:
        return any(u == user for u, _ in self.members)


@dataclass
class Rooms:
    """Rooms seen being created, recent room creations per user, and each user's ignore list."""

    rooms: OrderedDict[str, Room] = field(default_factory=OrderedDict)
    creating: dict[str, float] = field(default_factory=dict)   # user -> time of user_may_create_room
    ignores: dict[str, frozenset[str]] = field(default_factory=dict)
    max_rooms: int = MAX_ROOMS

    def add_room(self, room_id: str, room: Room) -> Room:
        self.rooms[room_id] = room
        while len(self.rooms) > self.max_rooms:
            self.rooms.popitem(last=False)
        return room


def mask_of(user_id: str | None) -> list[str]:
    """What is removed from a text sent to ``user_id`` before its digest: the localpart, and its
    parts of three or more characters ("anna.smith" -> "anna", "smith"), as bulk senders
    greet each recipient by name.

    >>> mask_of("@anna.smith:hs"), mask_of("@b2:hs")
    (['anna.smith', 'anna', 'smith'], ['b2'])
    """
    if not user_id:
        return []
    local = user_id[1:].split(":", 1)[0] if user_id.startswith("@") else user_id
    parts = [p for p in _PARTS.split(local) if len(p) >= 3 and p != local]
    return [local, *parts]


def _grow(room_id: str, room: Room, user: str, added_by: str | None, ts: float) -> list[ContractEvent]:
    """Add ``user`` to a room that is not (yet) a group; a third person makes it one."""
    if room.has(user):
        return []
    room.members.append((user, added_by))
    if len(room.members) < 3:
        return []
    creator = room.members[0][0]
    out: list[ContractEvent] = [GroupCreate(ts=ts, account=creator, group=room_id)]
    out += [GroupJoin(ts=ts, group=room_id, member=u, added_by=by) for u, by in room.members[1:]]
    room.group = True
    room.members = []
    return out


# -- callbacks -> events ------------------------------------------------------------------------------
def on_create_room(rooms: Rooms, body: UserMayCreateRoom, now: float) -> list[ContractEvent]:
    """Synapse names no room here; the next invite by this user is into the new room."""
    rooms.creating[body.user_id] = now
    if len(rooms.creating) > 10_000:   # forget creations older than the window
        for u in [u for u, t in rooms.creating.items() if now - t > NEW_ROOM_WINDOW]:
            del rooms.creating[u]
    return []


def on_invite(rooms: Rooms, body: UserMayInvite, now: float) -> list[ContractEvent]:
    """An invite into a new room with nobody else in it is a first message to the invitee;
    an invite that makes a room of three or more, or into an unknown room, adds a group member."""
    inviter, invitee, room_id = body.inviter, body.invitee, body.room_id
    room = rooms.rooms.get(room_id)
    if room is None:
        created = rooms.creating.pop(inviter, None)
        if created is None or now - created > NEW_ROOM_WINDOW:
            # a room from before bulkguard started: how many are in it is unknown
            return [GroupJoin(ts=now, group=room_id, member=invitee, added_by=inviter)]
        room = rooms.add_room(room_id, Room(members=[(inviter, None)]))
    out: list[ContractEvent] = []
    if not room.group and not room.has(inviter):   # an inviter we did not see joining
        out += _grow(room_id, room, inviter, None, now)
    if room.group:
        return out + [GroupJoin(ts=now, group=room_id, member=invitee, added_by=inviter)]
    if room.has(invitee):
        return out
    if len(room.members) == 1:
        room.members.append((invitee, inviter))
        return out + [Message(ts=now, sender=inviter, recipient=invitee)]
    return out + _grow(room_id, room, invitee, inviter, now)


def on_join(rooms: Rooms, body: UserMayJoinRoom, now: float) -> list[ContractEvent]:
    """Accepting an invite into a two-person room is adding the inviter as a contact (Matrix has
    no address book: accepting the conversation is its nearest act); joining a group by oneself
    is a group join without ``added_by``."""
    room = rooms.rooms.get(body.room)
    if room is None or room.group:
        if body.is_invited and room is not None:
            return []   # its invite was already a group join
        return [GroupJoin(ts=now, group=body.room, member=body.user)]
    if room.has(body.user):
        inviter = next((by for u, by in room.members if u == body.user), None)
        if body.is_invited and inviter is not None:
            return [ContactAdd(ts=now, account=body.user, contact=inviter)]
        return []
    return _grow(body.room, room, body.user, None, now)


def message_kind(ev: ClientEvent) -> MessageKind | None:
    """The contract's ``kind`` of a message event (None for encrypted: unknown)."""
    if ev.type == "m.sticker":
        return "image"
    if ev.type != "m.room.message":
        return None
    msgtype = ev.content.get("msgtype")
    if msgtype in _TEXT_TYPES:
        body = ev.content.get("body")
        return "link" if isinstance(body, str) and _LINK.search(body) else "text"
    if isinstance(msgtype, str) and msgtype in _KINDS:
        return _KINDS[msgtype]
    return "other"


def _size(ev: ClientEvent) -> int | None:
    body = ev.content.get("body")
    if ev.type == "m.room.message" and ev.content.get("msgtype") in _TEXT_TYPES and isinstance(body, str):
        return len(body.encode("utf-8", "surrogatepass"))
    info = ev.content.get("info")
    if isinstance(info, dict):
        size = info.get("size")
        if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
            return size
    return None


def event_ts(ev: ClientEvent, now: float) -> float:
    """Event time: the homeserver's ``origin_server_ts`` (ms) when present, else ``now``."""
    if ev.origin_server_ts is not None and ev.origin_server_ts >= 0:
        return ev.origin_server_ts / 1000.0
    return now


def on_event(rooms: Rooms, body: CheckEventForSpam, now: float,
             origin_ts: bool = True) -> list[ContractEvent]:
    """A message in a two-person room goes to the other person; in a larger or unknown room, to
    the group. The digest is the SimHash of the unencrypted text body; none when encrypted.
    ``origin_ts``: the event's time is the homeserver's ``origin_server_ts`` (else ``now``)."""
    ev = body.event
    if ev.type not in MESSAGE_TYPES:
        return []   # state events, reactions, redactions, calls: not messages
    ts = event_ts(ev, now) if origin_ts else now
    recipient: str | None = None
    room = rooms.rooms.get(ev.room_id)
    if room is not None and not room.group:
        others = [u for u, _ in room.members if u != ev.sender]
        if len(others) == 1 and room.has(ev.sender):
            recipient = others[0]
    digest = None
    text = ev.content.get("body")
    if ev.type == "m.room.message" and ev.content.get("msgtype") in _TEXT_TYPES and isinstance(text, str):
        digest = text_digest(text, mask=mask_of(recipient))
    kind, size = message_kind(ev), _size(ev)
    if recipient is not None:
        return [Message(ts=ts, sender=ev.sender, recipient=recipient, kind=kind, size=size,
                        digest=digest)]
    return [Message(ts=ts, sender=ev.sender, group=ev.room_id, kind=kind, size=size, digest=digest)]


def on_federated_invite(rooms: Rooms, body: FederatedUserMayInvite, now: float) -> list[ContractEvent]:
    """A remote user invites a local one: the same as a local invite, the room is unknown."""
    ev = body.event
    if ev.type != "m.room.member" or not ev.state_key:
        return []
    return on_invite(rooms, UserMayInvite(inviter=ev.sender, invitee=ev.state_key,
                                          room_id=ev.room_id), event_ts(ev, now))


def on_registered(body: UserRegistered, now: float) -> list[ContractEvent]:
    """A new local account: its id, and the last (user agent, IP) Synapse saw registering it.
    Matrix has no phone number and no hardware device id (a Matrix device is a login session)."""
    ua, ip = None, None
    for agent, addr in body.request_info:
        ua = agent or ua
        ip = addr or ip
    return [Register(ts=now, account=body.user_id, ip=ip or None,
                     client=ua[:MAX_CLIENT] if ua else None)]


def on_ignored(rooms: Rooms, body: IgnoredUsers, now: float) -> list[ContractEvent]:
    """Each user newly on an ignore list is a block; leaving the list is not an event."""
    before = rooms.ignores.get(body.user_id, frozenset())
    now_ignored = frozenset(u for u in body.ignored if u and u != body.user_id)
    rooms.ignores[body.user_id] = now_ignored
    return [Block(ts=now, blocker=body.user_id, blocked=u)
            for u in sorted(now_ignored - before)]


_REASONS: Final[tuple[tuple[ReportReason, tuple[str, ...]], ...]] = (
    ("scam", ("scam", "fraud", "phish")),
    ("spam", ("spam", "advert", "bot")),
    ("abuse", ("abus", "harass", "threat", "insult")),
)


def report_reason(text: str | None) -> ReportReason | None:
    """The contract's reason from the reporter's free text (None when they gave none).

    >>> report_reason("SPAM!!"), report_reason("phishing link"), report_reason("rude"), report_reason(None)
    ('spam', 'scam', 'other', None)
    """
    if not text or not text.strip():
        return None
    low = text.casefold()
    for reason, words in _REASONS:
        if any(w in low for w in words):
            return reason
    return "other"


def on_report(report: EventReport, text: str | None) -> list[ContractEvent]:
    """An event report (Admin API) is a report of the event's sender by the reporter; ``text``
    is the reported event's body when it was unencrypted text (the reporter chose to share it)."""
    if report.sender is None or report.sender == report.user_id:
        return []
    return [Report(ts=report.received_ts / 1000.0, reporter=report.user_id, reported=report.sender,
                   reason=report_reason(report.reason), messages=[text] if text else None)]

