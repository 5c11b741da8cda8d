"""Typed events: round trips, every kind of bad line, reading files and dead letters."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkguard.events import (
    EVENT_TYPES, AppealGranted, Block, ChallengePassed, ContactAdd, ContactSync, DeadLetters,
    EventError, GroupCreate, GroupJoin, Message, OptIn, OptOut, ReadStats, Register, Report,
    ReviewerAction, TemplateRegister, decode_line, encode_event, read_events,
)

# -- hypothesis strategies, one per event type ------------------------------------------------

ids = st.text(max_size=12)
ts = st.floats(min_value=-1e15, max_value=1e15, allow_nan=False, allow_infinity=False)
count = st.integers(min_value=0, max_value=2**63 - 1)


def opt(s):
    return st.none() | s


register = st.builds(Register, ts=ts, account=ids, kind=st.sampled_from(["personal", "business"]),
                     phone=opt(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)),
                     ip=opt(ids), device=opt(ids), client=opt(ids),
                     country=opt(st.from_regex(r"[A-Z]{2}", fullmatch=True)))
_kinds = st.sampled_from(["text", "image", "video", "audio", "document", "link", "other"])
_msg_common = dict(ts=ts, sender=ids, kind=opt(_kinds), size=opt(count), forwarded=count,
                   digest=opt(st.from_regex(r"[0-9a-f]{16}", fullmatch=True)),
                   template=opt(ids), typing_ms=opt(count))
message = (st.builds(Message, recipient=ids, **_msg_common)
           | st.builds(Message, group=ids, **_msg_common))
contact_add = st.builds(ContactAdd, ts=ts, account=ids, contact=ids)
contact_sync = st.builds(ContactSync, ts=ts, account=ids, numbers=count, matched=count)
group_create = st.builds(GroupCreate, ts=ts, account=ids, group=ids, size_limit=opt(count))
group_join = st.builds(GroupJoin, ts=ts, group=ids, member=ids, added_by=opt(ids))
report = st.builds(Report, ts=ts, reporter=ids, reported=ids,
                   reason=opt(st.sampled_from(["spam", "abuse", "scam", "other"])),
                   messages=opt(st.lists(st.text(max_size=40), max_size=3)))
block = st.builds(Block, ts=ts, blocker=ids, blocked=ids)
optin = st.builds(OptIn, ts=ts, business=ids, customer=ids,
                  source=opt(st.sampled_from(["qr", "link", "web", "chat", "other"])))
optout = st.builds(OptOut, ts=ts, business=ids, customer=ids)
template_register = st.builds(TemplateRegister, ts=ts, business=ids, template=ids,
                              category=opt(st.sampled_from(["marketing", "utility",
                                                            "authentication"])))
challenge_passed = st.builds(ChallengePassed, ts=ts, account=ids)
appeal_granted = st.builds(AppealGranted, ts=ts, account=ids, note=opt(st.text(max_size=40)))
reviewer_action = st.builds(ReviewerAction, ts=ts, account=ids,
                            action=st.sampled_from(["ban", "suspend", "reinstate", "allow"]),
                            until=opt(ts), note=opt(st.text(max_size=40)))
STRATEGIES = {
    "challenge_passed": challenge_passed, "appeal_granted": appeal_granted,
    "reviewer_action": reviewer_action,
    "register": register, "message": message, "contact_add": contact_add,
    "contact_sync": contact_sync, "group_create": group_create, "group_join": group_join,
    "report": report, "block": block, "optin": optin, "optout": optout,
    "template_register": template_register,
}
any_event = st.one_of(*STRATEGIES.values())


def test_strategies_cover_every_event_type():
    assert set(STRATEGIES) == set(EVENT_TYPES)


@pytest.mark.parametrize("type_", sorted(STRATEGIES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_round_trip(type_, data):
    ev = data.draw(STRATEGIES[type_])
    line = encode_event(ev)
    assert json.loads(line)["type"] == type_
    assert decode_line(line) == ev


FULL = [
    Register(ts=1.5, account="a", kind="business", phone="+4915112345678", ip="192.0.2.1",
             device="d", client="android/2.19.3", country="DE"),
    Message(ts=2.0, sender="a", recipient="b", kind="link", size=10, forwarded=3,
            digest="9f3a5c7e11d0b2a4", template="t", typing_ms=0),
    Message(ts=2.0, sender="a", group="g", kind="other", size=0, forwarded=0, typing_ms=1200),
    ContactAdd(ts=3.0, account="a", contact="b"),
    ContactSync(ts=3.0, account="a", numbers=100, matched=7),
    GroupCreate(ts=4.0, account="a", group="g", size_limit=256),
    GroupJoin(ts=4.0, group="g", member="m", added_by="a"),
    Report(ts=5.0, reporter="b", reported="a", reason="scam", messages=["hi", "ünïcode ✓"]),
    Block(ts=5.0, blocker="b", blocked="a"),
    OptIn(ts=6.0, business="s", customer="c", source="web"),
    OptOut(ts=6.0, business="s", customer="c"),
    TemplateRegister(ts=7.0, business="s", template="t", category="authentication"),
]


@pytest.mark.parametrize("ev", FULL, ids=lambda e: type(e).__name__)
def test_round_trip_with_all_optional_fields(ev):
    line = encode_event(ev)
    assert decode_line(line) == ev
    for f in ev.__struct_fields__:   # every optional field really is on the wire
        if getattr(ev, f) is not None and f not in ("kind", "forwarded"):
            assert f'"{f}"'.encode() in line


def test_optional_fields_default():
    ev = decode_line(b'{"type":"register","ts":1,"account":"a"}')
    assert ev == Register(ts=1.0, account="a") and ev.kind == "personal" and ev.phone is None
    m = decode_line(b'{"type":"message","ts":1,"sender":"a","group":"g"}')
    assert m.forwarded == 0 and m.typing_ms is None and m.recipient is None


def test_extra_unknown_fields_ignored():
    ev = decode_line(b'{"type":"block","ts":1,"blocker":"b","blocked":"a","note":"x",'
                     b'"nested":{"k":[1,2,{"z":null}]},"n":1e999}')
    assert ev == Block(ts=1.0, blocker="b", blocked="a")


# -- bad lines --------------------------------------------------------------------------------

M = '"type":"message","ts":1,"sender":"a","recipient":"b"'
BAD = [
    # (id, line, words the reason must contain)
    ("not-utf8", b'{"type":"block","ts":1,"blocker":"caf\xe9","blocked":"b"}', ["UTF-8"]),
    ("not-utf8-bare", b"\xff\xfe\xfd", []),
    ("not-json", b"this is not json", ["JSON"]),
    ("truncated-json", b'{"type":"block","ts":1,', []),
    ("trailing-garbage", b'{"type":"block","ts":1,"blocker":"a","blocked":"b"} x', ["JSON"]),
    ("nan", b'{"type":"block","ts":NaN,"blocker":"a","blocked":"b"}', ["JSON"]),
    ("infinity", b'{"type":"block","ts":Infinity,"blocker":"a","blocked":"b"}', ["JSON"]),
    ("minus-infinity", b'{"type":"block","ts":-Infinity,"blocker":"a","blocked":"b"}', ["JSON"]),
    ("1e999", b'{"type":"block","ts":1e999,"blocker":"a","blocked":"b"}', ["`$.ts`"]),
    ("size-1e999", ("{" + M + ',"size":1e999}').encode(), ["`$.size`"]),
    ("array", b"[1,2,3]", ["not a JSON object", "array"]),
    ("number", b"42", ["not a JSON object"]),
    ("string", b'"message"', ["not a JSON object"]),
    ("null", b"null", ["not a JSON object"]),
    ("missing-type", b'{"ts":1,"blocker":"a","blocked":"b"}', ["`type`"]),
    ("missing-ts", b'{"type":"block","blocker":"a","blocked":"b"}', ["`ts`"]),
    ("missing-field", b'{"type":"block","ts":1,"blocker":"a"}', ["missing", "`blocked`"]),
    ("missing-sync-field", b'{"type":"contact_sync","ts":1,"account":"a","numbers":3}',
     ["`matched`"]),
    ("ts-string", b'{"type":"block","ts":"yesterday","blocker":"a","blocked":"b"}', ["`$.ts`"]),
    ("ts-bool", b'{"type":"block","ts":true,"blocker":"a","blocked":"b"}', ["`$.ts`", "bool"]),
    ("ts-null", b'{"type":"block","ts":null,"blocker":"a","blocked":"b"}', ["`$.ts`"]),
    ("wrong-type-str", b'{"type":"block","ts":1,"blocker":5,"blocked":"b"}', ["`$.blocker`"]),
    ("wrong-type-int", ("{" + M + ',"size":"big"}').encode(), ["`$.size`"]),
    ("wrong-type-float-count", ("{" + M + ',"forwarded":1.5}').encode(), ["`$.forwarded`"]),
    ("wrong-type-bool-count", ("{" + M + ',"typing_ms":true}').encode(), ["`$.typing_ms`"]),
    ("wrong-type-messages", b'{"type":"report","ts":1,"reporter":"a","reported":"b",'
                            b'"messages":"x"}', ["`$.messages`"]),
    ("wrong-type-message-item", b'{"type":"report","ts":1,"reporter":"a","reported":"b",'
                                b'"messages":[1]}', ["`$.messages[0]`"]),
    ("type-not-string", b'{"type":5,"ts":1}', ["`$.type`"]),
    ("unknown-kind", ("{" + M + ',"kind":"gif"}').encode(), ["'gif'", "`$.kind`"]),
    ("unknown-register-kind", b'{"type":"register","ts":1,"account":"z","kind":"robot"}',
     ["'robot'", "`$.kind`"]),
    ("unknown-reason", b'{"type":"report","ts":1,"reporter":"a","reported":"b","reason":"meh"}',
     ["'meh'", "`$.reason`"]),
    ("unknown-source", b'{"type":"optin","ts":1,"business":"a","customer":"b","source":"tv"}',
     ["'tv'", "`$.source`"]),
    ("unknown-category", b'{"type":"template_register","ts":1,"business":"a","template":"t",'
                         b'"category":"promo"}', ["'promo'", "`$.category`"]),
    ("negative-size", ("{" + M + ',"size":-1}').encode(), [">= 0", "`$.size`"]),
    ("negative-forwarded", ("{" + M + ',"forwarded":-3}').encode(), [">= 0", "`$.forwarded`"]),
    ("negative-typing", ("{" + M + ',"typing_ms":-1}').encode(), [">= 0", "`$.typing_ms`"]),
    ("negative-numbers", b'{"type":"contact_sync","ts":1,"account":"a","numbers":-1,'
                         b'"matched":0}', [">= 0", "`$.numbers`"]),
    ("negative-matched", b'{"type":"contact_sync","ts":1,"account":"a","numbers":1,'
                         b'"matched":-1}', [">= 0", "`$.matched`"]),
    ("negative-size-limit", b'{"type":"group_create","ts":1,"account":"a","group":"g",'
                            b'"size_limit":-5}', [">= 0", "`$.size_limit`"]),
    ("both-recipient-group", ("{" + M + ',"group":"g"}').encode(),
     ["`recipient`", "`group`", "both"]),
    ("neither-recipient-group", b'{"type":"message","ts":1,"sender":"a"}',
     ["`recipient`", "`group`", "neither"]),
    ("unknown-type", b'{"type":"teleport","ts":1,"account":"a"}', ["unknown event type",
                                                                   "'teleport'"]),
]


@pytest.mark.parametrize("line,words", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_line_rejected_with_reason(line, words):
    with pytest.raises(EventError) as ei:
        decode_line(line)
    reason = str(ei.value)
    assert reason and "\n" not in reason
    for w in words:
        assert w in reason, f"{w!r} not in reason {reason!r}"


@pytest.mark.parametrize("line", [
    b'{"type":"block","ts":1,"blocker":"a","blocked":"b","note":"caf\xe9"}',
    b'{"type":"block","ts":1,"blocker":"a","blocked":"b","note":"\xed\xa0\x80"}',
], ids=["latin1-in-extra", "surrogate-in-extra"])
def test_invalid_utf8_in_unknown_field_rejected(line):
    with pytest.raises(EventError, match="UTF-8"):
        decode_line(line)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80) | st.text(max_size=80).map(str.encode))
def test_garbage_never_crashes_decoder(raw):
    try:
        ev = decode_line(raw)
    except EventError as err:
        assert str(err)
    else:
        assert type(ev) in EVENT_TYPES.values()


# -- reading files ------------------------------------------------------------------------------

def test_sample_bad_file(sample_bad, tmp_path):
    stats = ReadStats()
    dead = DeadLetters(tmp_path / "dead.jsonl")
    got = list(read_events(sample_bad, dead=dead, stats=stats))
    dead.close()
    assert [n for n, _ in got] == [1, 9]
    assert got[1][1] == Block(ts=1575676805.0, blocker="b", blocked="a")
    assert (stats.read, stats.accepted, stats.rejected, stats.empty) == (10, 2, 7, 1)
    assert stats.summary() == "read 10 lines: 2 accepted, 7 rejected, 1 empty skipped"
    raw_lines = sample_bad.read_bytes().split(b"\n")
    recs = [json.loads(x) for x in (tmp_path / "dead.jsonl").read_bytes().splitlines()]
    assert [r["line"] for r in recs] == [2, 3, 4, 5, 6, 7, 10]
    for r in recs:
        assert r["raw"].encode() == raw_lines[r["line"] - 1]
        assert r["reason"]


def test_strict_names_line(sample_bad):
    with pytest.raises(EventError, match=r"^line 2: .*JSON"):
        list(read_events(sample_bad, strict=True))


def test_gzip_and_last_line_without_newline(sample_events, tmp_path):
    data = sample_events.read_bytes().rstrip(b"\n")
    gz = tmp_path / "events.jsonl.gz"
    gz.write_bytes(gzip.compress(data))
    plain = tmp_path / "events.jsonl"
    plain.write_bytes(data)
    a, b = list(read_events(gz)), list(read_events(plain))
    assert a == b and len(a) == data.count(b"\n") + 1


def test_dead_letters_keep_non_utf8_raw(tmp_path):
    p = tmp_path / "in.jsonl"
    bad = b'{"type":"block","ts":1,"blocker":"caf\xe9","blocked":"b"}'
    p.write_bytes(b'{"type":"block","ts":1,"blocker":"a","blocked":"b"}\n' + bad + b"\n\n")
    dead = DeadLetters(tmp_path / "dead.jsonl")
    stats = ReadStats()
    assert len(list(read_events(p, dead=dead, stats=stats))) == 1
    dead.close()
    (rec,) = [json.loads(x) for x in (tmp_path / "dead.jsonl").read_bytes().splitlines()]
    assert rec["line"] == 2 and "UTF-8" in rec["reason"]
    assert rec["raw_encoding"] == "hex" and bytes.fromhex(rec["raw"]) == bad
    assert (stats.read, stats.accepted, stats.rejected, stats.empty) == (3, 1, 1, 1)


def test_missing_file_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="events file not found"):
        list(read_events(tmp_path / "nope.jsonl"))


def test_any_finite_ts_is_accepted() -> None:
    # the contract asks only for a finite number; 1e300 is absurd but valid
    ev = decode_line(b'{"type":"block","ts":1e300,"blocker":"a","blocked":"b"}')
    assert ev.ts == 1e300


def test_read_events_ignores_a_byte_order_mark_on_line_one_only(tmp_path) -> None:
    from bulkguard.events import ReadStats, read_events
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b'\xef\xbb\xbf{"type":"block","ts":1,"blocker":"a","blocked":"b"}\n'
                  b'\xef\xbb\xbf{"type":"block","ts":2,"blocker":"c","blocked":"b"}\n')
    stats = ReadStats()
    assert [n for n, _ in read_events(p, stats=stats)] == [1]
    assert (stats.accepted, stats.rejected) == (1, 1)


@pytest.mark.parametrize("line, why", [
    (b'{"type":"reviewer_action","ts":1,"account":"a","action":"smite"}', "`$.action`"),
    (b'{"type":"reviewer_action","ts":1,"account":"a"}', "`action`"),
    (b'{"type":"reviewer_action","ts":1,"account":"a","action":"suspend","until":"soon"}',
     "`$.until`"),
    (b'{"type":"appeal_granted","ts":1}', "`account`"),
    (b'{"type":"appeal_granted","ts":1,"account":"a","note":7}', "`$.note`"),
    (b'{"type":"challenge_passed","ts":"x","account":"a"}', "`$.ts`"),
])
def test_bad_review_events_are_refused_with_a_reason(line, why):
    with pytest.raises(EventError, match=why.replace("$", r"\$")):
        decode_line(line)


def test_review_events_decode():
    ev = decode_line(b'{"type":"reviewer_action","ts":5,"account":"a","action":"suspend",'
                     b'"until":99,"note":"spam wave"}')
    assert ev == ReviewerAction(ts=5, account="a", action="suspend", until=99.0, note="spam wave")
    assert decode_line(b'{"type":"appeal_granted","ts":1,"account":"a"}') == \
        AppealGranted(ts=1, account="a")
