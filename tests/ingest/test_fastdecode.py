"""The edge's fast path decodes exactly as msgspec does, or leaves the line to it.

The C decoder is part of the compiled build: in the pure-Python build these tests skip
(``tests/test_compiled.py`` runs the suite against the compiled build too)."""

from __future__ import annotations

import gzip
import io
import json
import math
import string
from pathlib import Path
from typing import Annotated

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bulkguard import events
from bulkguard.events import CHUNK, EVENT_DECODER, MAX_ID, MAX_LINE, Message, skip_rest
from bulkguard.ingest import fastdecode
from bulkguard.ingest.sources import LineSource, MemoryDeadLetters

FAST = fastdecode.decoder()
needs_fast = pytest.mark.skipif(FAST is None, reason="the C fast path is built with the compiled build")
SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "sample"


def same_as_msgspec(line: bytes) -> bool:
    """The fast path's event is msgspec's (equal, and each field of the same type), or it
    left the line to msgspec; True if it decoded it."""
    assert FAST is not None
    got = FAST(line)
    if got is None:
        return False
    want = EVENT_DECODER.decode(line)   # raises if the fast path took a line msgspec refuses
    assert type(got) is type(want) and got == want, (line, got, want)
    for a, b in zip(msgspec.structs.astuple(got), msgspec.structs.astuple(want)):
        assert type(a) is type(b), (line, a, b)
        if isinstance(a, float):
            assert math.copysign(1.0, a) == math.copysign(1.0, b)
    assert line.isascii()   # what lets the source skip its UTF-8 check
    return True


def test_spec_follows_the_event_classes():
    for cls in fastdecode.TYPES:
        spec = fastdecode.spec_of(cls)
        assert spec is not None, cls
        tag, klass, fields = spec
        assert klass is cls and tag == cls.__struct_config__.tag
        assert tuple(f[0] for f in fields) == cls.__struct_fields__   # positional order
        kinds = {f[0]: f[1] for f in fields}
        assert kinds["ts"] == fastdecode.K_TS
    kinds = {f[0]: (f[1], f[2], f[3]) for f in fastdecode.spec_of(Message)[2]}
    assert kinds["sender"] == (fastdecode.K_ID, True, True)
    assert kinds["digest"] == (fastdecode.K_STR, False, False)   # content: not interned
    assert kinds["kind"][0] == fastdecode.K_LITERAL and kinds["size"][0] == fastdecode.K_COUNT


def test_a_field_of_another_kind_leaves_the_type_to_msgspec():
    class Odd(msgspec.Struct, tag_field="type", tag="odd"):
        ts: float
        ratio: Annotated[float, msgspec.Meta(ge=0.0)] = 0.5   # a bound msgspec must check

    assert fastdecode.spec_of(Odd) is None


@needs_fast
def test_common_lines_decode_as_msgspec_does():
    lines = [
        b'{"type":"message","ts":1699920000.765,"sender":"u1","recipient":"u2","kind":"image",'
        b'"size":323246,"digest":"ff4e3156ae109f23","typing_ms":0}\n',
        b'{"type":"message","ts":5,"sender":"","group":"g1","forwarded":7}\r\n',
        b'{ "type" : "message" , "ts" : -12.5 , "sender" : "a b" , "recipient" : "c" }',
        b'{"type":"contact_add","ts":1.0,"account":"a","contact":"b"}',
        b'{"type":"group_join","ts":2,"group":"g","member":"m","added_by":"x"}',
        b'{"type":"block","ts":3.25,"blocker":"b","blocked":"a"}',
        b'{"type":"message","ts":1,"recipient":"b","sender":"a"}',   # any field order
        b'{"type":"message","ts":2,"sender":"a"}',                     # no target: the engine's call
    ]
    assert all(same_as_msgspec(x) for x in lines)


@needs_fast
@pytest.mark.parametrize("line", [
    b'{"ts":1,"type":"message","sender":"a","recipient":"b"}',       # tag not first
    b'{"type":"register","ts":1,"account":"a"}',                     # another type
    b'{"type":"message","ts":1,"sender":"a","recipient":"b","x":1}',  # an unknown field
    b'{"type":"message","ts":1,"sender":"a","sender":"b"}',          # a repeated one
    b'{"type":"message","ts":1,"sender":"a\\u0062","recipient":"b"}',  # an escape
    '{"type":"message","ts":1,"sender":"\u00e9","recipient":"b"}'.encode(),  # not ASCII
    b'{"type":"message","ts":1e3,"sender":"a","recipient":"b"}',     # an exponent
    b'{"type":"message","ts":-0,"sender":"a","recipient":"b"}',      # the sign of zero
    b'{"type":"message","ts":01,"sender":"a","recipient":"b"}',      # not JSON
    b'{"type":"message","ts":1,"sender":"a","recipient":null}',      # null
    b'{"type":"message","ts":1,"sender":"a","kind":"hologram"}',     # not a kind
    b'{"type":"message","ts":1,"sender":"a","size":-1}',             # negative count
    b'{"type":"message","ts":1,"sender":"a","size":1.0}',            # a float count
    b'{"type":"message","ts":1,"recipient":"b"}',                    # sender missing
    b'{"type":"message","ts":1,"sender":"a"} x',                     # trailing characters
    b'{"type":"message","ts":1,"sender":"' + b"a" * (MAX_ID + 1) + b'"}',   # over the limit
    b'{"type":"message","ts":123456789012345678,"sender":"a"}',      # over 2**53 as digits
])
def test_other_lines_are_left_to_msgspec(line):
    assert FAST(line) is None


@needs_fast
def test_sample_lines_decode_as_msgspec_does():
    for name in ("events.jsonl", "bad.jsonl"):
        path = SAMPLE / name
        if path.exists():
            for line in path.read_bytes().splitlines(keepends=True):
                same_as_msgspec(line)


@needs_fast
def test_names_are_interned_and_the_cache_is_only_a_cache():
    from bulkguard.ingest._fastdecode import Decoder
    small = Decoder(tuple(fastdecode.spec_of(c) for c in fastdecode.TYPES), MAX_ID, 4)
    names = [f"user{i}" for i in range(200)]
    first = {}
    for rnd in range(3):
        for i, n in enumerate(names):
            line = json.dumps({"type": "message", "ts": i, "sender": n,
                               "recipient": names[-i]}).encode()
            ev = small.decode(line)
            assert ev == EVENT_DECODER.decode(line)
            first.setdefault(n, ev.sender)
    hits, misses = small.stats()
    assert hits + misses == 3 * 200 * 2 and misses > 0   # 16 slots: names were evicted
    a = FAST(b'{"type":"block","ts":1,"blocker":"repeated-name","blocked":"x"}')
    b = FAST(b'{"type":"message","ts":2,"sender":"repeated-name","recipient":"x"}')
    assert a.blocker is b.sender and a.blocked is b.recipient   # one object per name


@needs_fast
def test_counts_are_the_values_msgspec_gives_small_ones_one_object_each():
    """Counts below 16384 come out as one object per value (none made and freed per
    field); at and beyond it, and up to the largest 18-digit one, fresh ints; all equal
    to msgspec's."""
    for size in [0, 1, 256, 257, 9999, 16383, 16384, 16385, 10**9, 10**18 - 1]:
        for typing in [0, 16383, 16384]:
            line = b'{"type":"message","ts":1,"sender":"a","recipient":"b","size":%d,' \
                   b'"typing_ms":%d}' % (size, typing)
            assert same_as_msgspec(line)
            a, b = FAST(line), FAST(line)
            assert (a.size is b.size) == (size < 16384), size
            assert (a.typing_ms is b.typing_ms) == (typing < 16384), typing


@pytest.mark.parametrize("fast", [True, False])
def test_message_ts_is_its_ts_with_exactly_one_target(fast):
    """What the reorder stage asks of each message: its ts, or None without a target or
    with both; the C reader and the pure one agree, and the C one takes only messages."""
    get = fastdecode.message_ts() if fast else fastdecode._message_ts
    if fast and FAST is None:
        pytest.skip("the C reader is built with the compiled build")
    assert get(Message(ts=1.5, sender="a", recipient="b")) == 1.5
    assert get(Message(ts=2.5, sender="a", group="g")) == 2.5
    assert get(Message(ts=3.5, sender="a")) is None
    assert get(Message(ts=4.5, sender="a", recipient="b", group="g")) is None
    ts = 1_700_000_000.123
    assert type(get(Message(ts=ts, sender="a", recipient="b"))) is float
    if fast:
        with pytest.raises(TypeError):
            get(events.Block(ts=1.0, blocker="a", blocked="b"))
        with pytest.raises(TypeError, match="not an object slot"):
            from bulkguard.ingest._fastdecode import OneOf
            OneOf(Message, "ts", "recipient", "__class__")


# What may stop a string: its quote, or a byte the fast path leaves to msgspec (a raw
# control character, DEL, a UTF-8 byte, an escape), at every place in a word of eight.
STOPS = [b"", b"\x7f", b"\x1f", b"\t", b"\xc3\xa9", b"\xff", b"\\n", b'\\"', b"\\u0041", b"~"]


@needs_fast
@pytest.mark.parametrize("stop", STOPS)
def test_strings_end_where_msgspec_says_at_every_offset(stop):
    for length in range(0, 26):
        for at in range(0, length + 1):
            name = b"a" * at + stop + b"b" * (length - at)
            for head in (b"", b"x" * 3, b"y" * 5):   # the string at other offsets of a word
                same_as_msgspec(b'{"type":"block","ts":1,"blocker":"' + head + name
                                + b'","blocked":"z"}\n')
                same_as_msgspec(b'{"type":"block","ts":1,"blocked":"z","blocker":"'
                                + head + name + b'"}')   # near the end of the line


@needs_fast
@pytest.mark.parametrize("ts", [
    "12345678", "98765432.1", "1699920000.765", "1.23456789", "0.00000001", "12345678.12345678",
    "123456789.12345678", "1234567890.12345678", "9007199254740992", "9007199254740993",
    "99999999.99999999", "-10000000.00000009", "1234567a", "12345678.1234567e1", "90071992.54740993",
])
def test_timestamps_of_eight_digits_and_more(ts):
    line = b'{"type":"block","ts":' + ts.encode() + b',"blocker":"a","blocked":"b"}'
    try:
        want = EVENT_DECODER.decode(line)
    except msgspec.DecodeError:
        assert FAST(line) is None
        return
    got = FAST(line)
    digits = ts.lstrip("-").replace(".", "")
    if digits.isdigit() and len(digits) <= 17 and int(digits) <= 2**53:   # taken, exact
        assert got == want and got.ts.hex() == float(want.ts).hex()
    else:
        assert got is None


@needs_fast
def test_names_of_every_length_are_interned():
    for length in range(0, 40):
        for tail in ("", "\n", "  \r\n"):
            name = "".join(string.ascii_letters[(i * 7 + length) % 52] for i in range(length))
            other = name[:-1] + "#" if name else "#"   # differs only in its last byte
            a = FAST(f'{{"type":"block","ts":1,"blocker":"{name}","blocked":"{other}"}}{tail}'.encode())
            b = FAST(f'{{"type":"block","ts":2,"blocked":"{name}","blocker":"{other}"}}{tail}'.encode())
            assert (a.blocker, a.blocked) == (name, other) == (b.blocked, b.blocker)
            assert a.blocker is b.blocked and a.blocked is b.blocker


@needs_fast
def test_a_name_is_found_again_wherever_it_is_in_the_line():
    from bulkguard.ingest._fastdecode import Decoder
    for length in range(0, 20):
        d = Decoder(tuple(fastdecode.spec_of(c) for c in fastdecode.TYPES), MAX_ID, 16)
        name = "n" * length
        d.decode(f'{{"type":"block","ts":1,"blocker":"{name}","blocked":"a-longer-name"}}'.encode())
        hits, misses = d.stats()
        for line in (f'{{"type":"block","ts":1,"blocked":"a-longer-name","blocker":"{name}"}}',
                     f'{{"type":"block","ts":1,"blocked":"a-longer-name","blocker":"{name}"}}\n',
                     f'{{"type":"contact_add","ts":1,"account":"{name}","contact":"a-longer-name"}}'):
            d.decode(line.encode())
        assert d.stats() == (hits + 6, misses), length   # near the end of the line too


@pytest.mark.parametrize("data", [
    b"", b"\n", b"a", b"a\nb", b"a\nb\n", b"\n\n\r\n x \n",
    b"x" * (CHUNK - 1) + b"\n" + b"y" * CHUNK + b"\n" + b"z" * (3 * CHUNK + 5),   # cut at CHUNK
])
@pytest.mark.parametrize("gz", [False, True])
def test_file_lines_are_raw_lines(data, gz):
    def stream() -> io.BufferedIOBase:
        raw = io.BytesIO(gzip.compress(data) if gz else data)
        return gzip.GzipFile(fileobj=raw) if gz else io.BufferedReader(raw)
    want = list(events.raw_lines(stream()))
    it = fastdecode.lines(stream())
    assert list(it) == want and b"".join(want) == data
    assert list(it) == []   # exhausted stays exhausted
    # a reader that consumes the rest of an overlong line between two lines (as
    # ``overlong`` does) sees the same lines too
    for make in (events.raw_lines, fastdecode.lines):
        f = stream()
        got = []
        for chunk in make(f):
            got.append(chunk)
            if len(chunk) >= CHUNK and not chunk.endswith(b"\n"):
                got.append(skip_rest(f, chunk))
        if make is events.raw_lines:
            want = got
    assert got == want


def test_file_lines_stop_where_readline_fails():
    class Failing(io.BytesIO):
        def readline(self, size: int | None = -1) -> bytes:
            if self.tell() > 3:
                raise OSError("disk on fire")
            return super().readline(size)
    it = fastdecode.lines(Failing(b"ab\ncd\nef\n"))
    assert next(it) == b"ab\n" and next(it) == b"cd\n"
    with pytest.raises(OSError, match="disk on fire"):
        next(it)


def test_line_source_gives_the_same_events_with_and_without_the_fast_path(monkeypatch):
    lines = [b'{"type":"message","ts":1,"sender":"a","recipient":"b"}\n',
             b'{"type":"message","ts":2,"sender":"a","recipient":"b","x":"\xc3\xa9"}\n',
             b'{"type":"message","ts":3,"sender":"a","recipient":"b","x":"\xff"}\n',
             b'\xef\xbb\xbf{"type":"block","ts":4,"blocker":"b","blocked":"a"}\n',
             b"\n", b'{"type":"teleport","ts":1}\n']
    runs = []
    for fast in (FAST, None):
        monkeypatch.setattr(fastdecode, "_decode", fast)
        monkeypatch.setattr(fastdecode, "_made", True)
        dead = MemoryDeadLetters()
        src = LineSource(lines, dead)
        runs.append((list(src), dead.letters, src.stats.summary()))
    assert runs[0] == runs[1]
    assert [n for n, _ in runs[0][0]] == [1, 2]   # line 3 is not UTF-8; a BOM only on line 1
    assert len(runs[0][1]) == 3


# -- hypothesis: any line the fast path takes, msgspec decodes to the same event ----------
FIELDS = {
    "message": ["ts", "sender", "recipient", "group", "kind", "size", "forwarded", "digest",
                "template", "typing_ms"],
    "contact_add": ["ts", "account", "contact"],
    "group_join": ["ts", "group", "member", "added_by"],
    "block": ["ts", "blocker", "blocked"],
    "register": ["ts", "account"],
}
ws = st.sampled_from(["", "", "", " ", "\t", "\n ", "\r\n"])
plain = st.text(alphabet=string.ascii_letters + string.digits + "-_.:@ ", max_size=12)
odd_text = st.text(max_size=6)   # escapes, controls, non-ASCII: json.dumps makes them valid
number = st.one_of(
    st.integers(-10**20, 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.tuples(st.integers(0, 10**17), st.integers(0, 10**6)).map(lambda t: f"{t[0]}.{t[1]:06d}"),
    st.sampled_from(["-0", "0", "0.0", "-0.0", "1e5", "1E-3", "01", "1.", ".5", "2.50"]),
)
value = st.one_of(
    plain.map(json.dumps), odd_text.map(json.dumps), number,
    st.sampled_from(['"text"', '"link"', '"image"', '"hologram"', "null", "true", "[]",
                     '{"a":1}', '"' + "x" * MAX_ID + '"', '"' + "x" * (MAX_ID + 1) + '"']),
)


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    tag = draw(st.sampled_from(sorted(FIELDS)))
    keys = draw(st.lists(st.sampled_from(FIELDS[tag] + ["x", "type", "Sender"]), max_size=10))
    if draw(st.booleans()):   # mostly well-formed: the fields the type needs
        keys = FIELDS[tag][:2 if tag == "message" else 3] + keys
    pairs = [("type", json.dumps(tag))] if draw(st.integers(0, 9)) else []
    pairs += [(k, draw(value)) for k in keys]
    w = draw(ws)
    body = ",".join(f"{draw(ws)}{json.dumps(k)}{w}:{draw(ws)}{v}{draw(ws)}" for k, v in pairs)
    return (draw(ws) + "{" + body + "}" + draw(st.sampled_from(["", "\n", "\r\n", " x"]))).encode()


KINDS = ["text", "image", "video", "audio", "document", "link", "other"]


@st.composite
def plain_lines(draw: st.DrawFn) -> bytes:
    """Lines mostly of the shape the fast path takes: right types, any order, any spacing,
    now and then one value of another kind."""
    tag = draw(st.sampled_from(["message", "contact_add", "group_join", "block"]))
    fields = FIELDS[tag]
    required = fields[:2] if tag == "message" else fields[:3]
    optional = draw(st.lists(st.sampled_from(fields[1:]), unique=True))
    keys = list(dict.fromkeys(required + optional))
    if draw(st.booleans()):
        keys = draw(st.permutations(keys))
    ts = st.one_of(st.integers(-10**16, 10**16).map(str),
                   st.tuples(st.integers(-10**10, 10**10), st.integers(0, 10**6),
                             st.integers(1, 7)).map(lambda t: f"{t[0]}.{t[1]:0{t[2]}d}"))
    count = st.integers(0, 10**18).map(str)
    name = st.one_of(plain, st.sampled_from(["u1", "u2", "g", ""]))
    pairs = []
    for k in keys:
        if draw(st.integers(0, 29)) == 0:
            v = draw(value)   # the odd one out
        elif k == "ts":
            v = draw(ts)
        elif k in ("size", "forwarded", "typing_ms"):
            v = draw(count)
        elif k == "kind":
            v = json.dumps(draw(st.sampled_from(KINDS)))
        else:
            v = json.dumps(draw(name))
        pairs.append((k, v))
    body = ",".join(f"{draw(ws)}{json.dumps(k)}{draw(ws)}:{draw(ws)}{v}" for k, v in pairs)
    head = f'{draw(ws)}"type"{draw(ws)}:{draw(ws)}"{tag}"'
    return ("{" + head + ("," if body else "") + body + draw(ws) + "}"
            + draw(st.sampled_from(["", "\n", "\r\n"]))).encode()


@needs_fast
@settings(max_examples=3000, deadline=None)
@given(plain_lines())
def test_fast_path_decodes_plain_lines_as_msgspec_does(line):
    same_as_msgspec(line)


@needs_fast
@settings(max_examples=3000, deadline=None)
@given(lines())
@example(b'{"type":"message","ts":0.1,"sender":"a"}')
@example(b'{"type":"message","ts":9007199254740993,"sender":"a"}')
def test_fast_path_agrees_with_msgspec(line):
    same_as_msgspec(line)


@needs_fast
@settings(max_examples=2000, deadline=None)
@given(st.integers(0, 2**53), st.integers(0, 22), st.booleans())
def test_timestamps_round_as_msgspec_does(mantissa, frac, neg):
    digits = str(mantissa).rjust(frac + 1, "0")
    text = ("-" if neg else "") + (digits[:-frac] + "." + digits[-frac:] if frac else digits)
    same_as_msgspec(b'{"type":"block","ts":' + text.encode() + b',"blocker":"b","blocked":"a"}')




# -- the coordinator's list: the source gives the same events, dead letters and texts ------
value_more = st.sampled_from([
    "NaN", "Infinity", "-Infinity", "nan", '"\\ud800"', '"\\ud83d\\ude00"', '"\\u0041"',
    '"\u00e9"', '"\u65e5\u672c"', "1e309", "-1e309", "18446744073709551616", "-5", "5.0",
    '"a\\nb"', '"tab\there"', "[1, [2, [3]]]", '{"x": {"y": []}}', '""',
])


@st.composite
def raw_lines(draw: st.DrawFn) -> bytes:
    """A line as a file may hold it: well-formed or not, with raw non-ASCII and invalid
    UTF-8 now and then."""
    line = draw(st.one_of(plain_lines(), lines(),
                          plain_lines().map(lambda b: b.replace(b'"u1"', b'"\xc3\xa9"')),
                          lines().map(lambda b: b.replace(b":", b':"\xff",', 1)),
                          st.just(b""), st.just(b"   \n"),
                          st.just(b'\xef\xbb\xbf{"type":"block","ts":1,"blocker":"b","blocked":"a"}')))
    if draw(st.integers(0, 9)) == 0:   # one value swapped for an odd one
        v = draw(value_more).encode()
        line = line.replace(b":1", b":" + v, 1).replace(b':"a"', b":" + v, 1)
    return line


def _run_source(lines_: list[bytes], fast: object) -> tuple[list, list, str]:
    was = (fastdecode._decode, fastdecode._made)
    fastdecode._decode, fastdecode._made = fast, True   # type: ignore[assignment]
    try:
        dead = MemoryDeadLetters()
        src = LineSource(lines_, dead)
        events = [(n, type(ev), ev, [type(x) for x in msgspec.structs.astuple(ev)])
                  for n, ev in src]
        return events, dead.letters, src.stats.summary()
    finally:
        fastdecode._decode, fastdecode._made = was


@needs_fast
@settings(max_examples=600, deadline=None)
@given(st.lists(raw_lines(), min_size=1, max_size=12))
@example([b'{"type":"message","ts":1,"sender":"a","recipient":"b","sender":"c"}',
          b'{"type":"message","ts":NaN,"sender":"a"}', b'{"type":"message","ts":1e999,"sender":"a"}',
          b'{"type":"message","ts":1,"sender":"\\ud800","recipient":"b"}',
          b'{"type":"message","ts":1,"sender":"a","size":-1}',
          b'{"type":"message","ts":1,"sender":"a","size":99999999999999999999}'])
def test_the_source_is_the_same_with_and_without_the_fast_path(batch):
    """Same accepted events (equal, fields of the same types), same dead letters with the
    same reasons, same counts: the fast path only ever takes what msgspec takes."""
    with_fast = _run_source(batch, FAST)
    without = _run_source(batch, None)
    assert with_fast == without


@needs_fast
def test_an_overlong_line_is_refused_before_the_fast_path():
    long = (b'{"type":"message","ts":1,"sender":"a","recipient":"b","x":"'
            + b"a" * MAX_LINE + b'"}\n')
    ok = b'{"type":"message","ts":2,"sender":"a","recipient":"b"}\n'
    with_fast, without = _run_source([long, ok], FAST), _run_source([long, ok], None)
    assert with_fast == without
    assert [n for n, *_ in with_fast[0]] == [2]
    assert with_fast[1][0][0] == 1 and with_fast[1][0][2].startswith("line too long")
