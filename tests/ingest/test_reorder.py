"""The reorder stage: robust stream clock, dead letters for poisoned ts, reorder window."""

from __future__ import annotations

import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkguard.ingest.reorder import Reorder

T0 = 1_700_000_000.0


def run(stage: Reorder[int], ts: list[float]) -> tuple[list[int], list[tuple[int, str]]]:
    """Push ``ts`` (line = index + 1, event = index); the events in the order released and
    the dead letters (line, reason)."""
    out: list[int] = []
    dead: list[tuple[int, str]] = []
    for i, t in enumerate(ts):
        stage.push(i + 1, t, i, b"raw%d" % i)
        out.extend(e.ev for e in stage.ready)
        dead.extend((d[1], d[4]) for d in stage.dead)
        stage.ready.clear()
        stage.dead.clear()
    stage.flush()
    out.extend(e.ev for e in stage.ready)
    dead.extend((d[1], d[4]) for d in stage.dead)
    return out, dead


def sorted_stream(rng: random.Random, n: int, rate: float = 1.0) -> list[float]:
    t, out = T0, []
    for _ in range(n):
        t += rng.expovariate(rate)
        out.append(round(t, 3))
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 50), st.floats(0, 1)), min_size=1, max_size=200),
       st.sampled_from([0.0, 5.0, 60.0, 600.0]))
def test_jitter_within_the_window_is_undone(steps, window):
    """Events delivered up to ``window`` s late come out in (ts, line) order: none is late."""
    ts, t = [], T0
    for gap, _ in steps:
        t += gap
        ts.append(t)
    delays = [frac * window for _, frac in steps]
    order = sorted(range(len(ts)), key=lambda i: (ts[i] + delays[i], i))
    delivered = [ts[i] for i in order]
    stage: Reorder[int] = Reorder(window=window, max_ahead=3600.0)
    out, dead = run(stage, delivered)
    assert dead == [] and stage.late == 0
    assert out == sorted(range(len(delivered)), key=lambda k: (delivered[k], k))


def test_later_than_the_window_is_late_and_counted():
    stage: Reorder[int] = Reorder(window=10.0)
    ts = [T0 + i for i in range(100)] + [T0 + 5.0]
    out, dead = run(stage, ts)
    assert stage.late == 1 and dead == []
    assert sorted(out) == list(range(101))
    assert out.index(100) < 90   # applied when it came, not at its place in time


@pytest.mark.parametrize("bad", [1e308, T0 + 86_400 * 365, T0 + 7200])
def test_one_far_future_event_is_dead_lettered_and_changes_nothing(bad):
    rng = random.Random(1)
    ts = sorted_stream(rng, 500)
    clean: Reorder[int] = Reorder()
    ref, _ = run(clean, ts)
    poisoned = ts[:200] + [bad] + ts[200:]
    stage: Reorder[int] = Reorder()
    out, dead = run(stage, poisoned)
    assert [(line, reason.split(":")[0]) for line, reason in dead] == \
        [(201, "ts too far ahead of the stream")]
    assert [i if i < 200 else i - 1 for i in out] == ref
    assert stage.clock == clean.clock and stage.jumps == 0


@pytest.mark.parametrize("mult,unit", [(1e3, "milliseconds"), (1e6, "microseconds"),
                                       (1e9, "nanoseconds")])
def test_a_ts_in_another_unit_is_named(mult, unit):
    ts = sorted_stream(random.Random(2), 50)
    stage: Reorder[int] = Reorder()
    out, dead = run(stage, ts[:20] + [ts[20] * mult] + ts[20:])
    assert len(dead) == 1 and dead[0][0] == 21
    assert dead[0][1].startswith("ts too far ahead of the stream") and unit in dead[0][1]
    assert len(out) == 50


def test_a_run_of_events_in_milliseconds_never_moves_the_clock():
    ts = sorted_stream(random.Random(3), 100)
    stream = ts[:50] + [t * 1000 for t in ts[50:70]] + ts[50:]
    stage: Reorder[int] = Reorder()
    out, dead = run(stage, stream)
    assert len(dead) == 20 and stage.jumps == 0 and stage.clock < T0 + 1000


def test_a_stream_that_opens_with_a_poisoned_ts():
    ts = sorted_stream(random.Random(4), 30)
    stage: Reorder[int] = Reorder()
    out, dead = run(stage, [1e300] + ts)
    assert [d[0] for d in dead] == [1] and out == list(range(1, 31))


def test_a_real_gap_is_confirmed_and_nothing_is_lost():
    """A quiet stream (two days without events, then events every two hours) moves on."""
    ts = sorted_stream(random.Random(5), 40)
    later = [ts[-1] + 2 * 86_400 + i * 7200 for i in range(20)]
    stage: Reorder[int] = Reorder(confirm=4)
    out, dead = run(stage, ts + later)
    assert dead == [] and out == list(range(60)) and stage.jumps >= 1


def test_a_producer_with_a_skewed_clock_is_dead_lettered():
    """One server of three is two days ahead: its events never move stream time."""
    ts = sorted_stream(random.Random(6), 300)
    stream = [t + 2 * 86_400 if i % 3 == 0 else t for i, t in enumerate(ts)]
    stage: Reorder[int] = Reorder()
    out, dead = run(stage, stream)
    assert stage.jumps == 0 and len(dead) == 100 and len(out) == 200
    assert all("not confirmed" in r or "input ended" in r for _, r in dead)


def test_clock_is_the_third_largest_ts():
    """Two events within the limit do not move stream time; the third does."""
    stage: Reorder[int] = Reorder(window=60.0, max_ahead=3600.0)
    run(stage, [T0, T0 + 1, T0 + 2])
    stage.push(4, T0 + 3000, 3, b"")
    stage.push(5, T0 + 3001, 4, b"")
    assert stage.clock == T0 + 2
    stage.push(6, T0 + 3002, 5, b"")
    assert stage.clock == T0 + 3000


def test_state_survives_pickle_mid_stream():
    rng = random.Random(7)
    ts = sorted_stream(rng, 400)
    jittered = sorted(ts, key=lambda t: t + rng.uniform(0, 90))
    whole: Reorder[int] = Reorder(window=60.0)
    ref, _ = run(whole, jittered)
    first: Reorder[int] = Reorder(window=60.0)
    out = []
    for i, t in enumerate(jittered[:150]):
        first.push(i + 1, t, i, b"")
        out.extend(e.ev for e in first.ready)
        first.ready.clear()
    second: Reorder[int] = pickle.loads(pickle.dumps(first))
    for i, t in enumerate(jittered[150:], 150):
        second.push(i + 1, t, i, b"")
        out.extend(e.ev for e in second.ready)
        second.ready.clear()
    second.flush()
    out.extend(e.ev for e in second.ready)
    assert out == ref and second.late == whole.late


@pytest.mark.parametrize("kw", [{"window": 3601.0}, {"window": -1.0},
                                {"window": 60.0, "max_ahead": 10.0}, {"confirm": 0}])
def test_bad_settings_are_refused(kw):
    with pytest.raises(ValueError):
        Reorder(**kw)


def test_window_zero_applies_events_as_they_come_but_checks_the_clock():
    ts = [T0 + 5, T0 + 1, T0 + 7, T0 + 3, 1e308, T0 + 9, T0 + 8, T0 + 10, T0 + 11,
          T0 + 12, T0 + 13, T0 + 14, T0 + 15, T0 + 16]
    stage: Reorder[int] = Reorder(window=0.0)
    out, dead = run(stage, ts)
    assert out == [i for i in range(len(ts)) if i != 4]
    assert [d[0] for d in dead] == [5] and stage.late == 3


# -- in replay: checkpoints keep what the window holds ---------------------------------------

def _jittered_file(path, n: int = 3000) -> list[bytes]:
    from bulkguard.sim import attacks
    rng = random.Random(8)
    lines, t = [], T0
    for i in range(n):
        t += rng.expovariate(2.0)
        s = f"u{rng.randrange(60)}"
        r = f"u{rng.randrange(60)}" if rng.random() < 0.8 else f"x{i}"
        lines.append(b'{"type":"message","ts":%.3f,"sender":"%s","recipient":"%s"}\n'
                     % (t, s.encode(), r.encode()))
    for k in range(8):   # blasters, so that there are decisions to compare (one at the cut)
        for j in range(40):
            lines.append(b'{"type":"message","ts":%.3f,"sender":"b%d","recipient":"y%d-%d",'
                         b'"digest":"9f3a5c7e11d0b2a4","typing_ms":0}\n'
                         % (T0 + 120 * k + j * 0.5, k, k, j))
    lines.sort(key=lambda x: float(x.split(b'"ts":')[1].split(b",")[0]))
    out = attacks.jitter(lines, 50.0, seed=9)
    path.write_bytes(b"".join(out))
    return out


def test_resume_with_events_held_by_the_window_is_byte_identical(tmp_path):
    from bulkguard.ingest.replay import replay
    lines = _jittered_file(tmp_path / "all.jsonl")
    whole = tmp_path / "whole.jsonl"
    replay(str(tmp_path / "all.jsonl"), str(whole))
    assert whole.read_bytes().count(b"\n") >= 5
    # a run over the first part (checkpoints every 100 lines, the last before the window
    # empties), then the rest appended and the run started again
    grow = tmp_path / "grow.jsonl"
    cut = next(i for i, x in enumerate(lines) if b'"sender":"b7"' in x) + 10   # mid-blast
    grow.write_bytes(b"".join(lines[:cut]))
    out = tmp_path / "d.jsonl"
    replay(str(grow), str(out), state_dir=str(tmp_path / "st"), checkpoint_every=100)
    with open(grow, "ab") as f:
        f.write(b"".join(lines[cut:]))
    r = replay(str(grow), str(out), state_dir=str(tmp_path / "st"), checkpoint_every=100)
    assert r.resumed_from == cut
    assert out.read_bytes() == whole.read_bytes()


# -- the window grows toward the lateness it sees ---------------------------------------------

def _jittered(rng: random.Random, n: int, seconds: float, rate: float = 1.0) -> list[float]:
    ts = sorted_stream(rng, n, rate)
    return sorted(ts, key=lambda t: t + rng.uniform(0, seconds))


def test_the_window_grows_to_the_lateness_it_sees_and_no_further_than_its_cap():
    """600 s of jitter with the default 60 s window: after the first few late events the
    window covers the lateness, and almost nothing more comes late."""
    stage: Reorder[int] = Reorder()
    out, dead = run(stage, _jittered(random.Random(11), 20_000, 600.0))
    assert dead == [] and sorted(out) == list(range(20_000))
    assert 600.0 <= stage.widest <= 900.0
    assert stage.late < 20_000 * 0.005
    fixed: Reorder[int] = Reorder(max_window=60.0)   # a fixed window: a tenth come late
    run(fixed, _jittered(random.Random(11), 20_000, 600.0))
    assert fixed.widest == 60.0 and fixed.late > 20_000 * 0.05
    capped: Reorder[int] = Reorder(max_window=300.0)
    run(capped, _jittered(random.Random(11), 20_000, 3000.0))
    assert capped.widest == 300.0


def test_two_very_late_events_do_not_widen_the_window():
    """Like the clock: the third largest lateness counts, so one or two events from a
    broken producer do not make everyone's decisions wait."""
    ts = sorted_stream(random.Random(12), 3000)
    stream = ts[:1000] + [ts[0], ts[1]] + ts[1000:]
    stage: Reorder[int] = Reorder()
    run(stage, stream)
    assert stage.late == 2 and stage.widest == 60.0
    three = ts[:1000] + [ts[0], ts[1], ts[2]] + ts[1000:]
    grown: Reorder[int] = Reorder()
    run(grown, three)
    assert grown.late == 3 and grown.widest == 900.0   # ~1000 s late: up to the cap


def test_the_window_shrinks_back_once_events_stop_coming_late():
    rng = random.Random(13)
    ts = sorted_stream(rng, 8000)             # about two hours and a quarter
    late = sorted(ts[:3000], key=lambda t: t + rng.uniform(0, 400))
    stream = late + ts[3000:] + [ts[-1] + 1 + i for i in range(10_000)]   # then 3 h in order
    stage: Reorder[int] = Reorder()
    out, _ = run(stage, stream)
    assert stage.widest >= 400.0 and stage.window == 60.0 and stage.late < 100   # while it grew
    assert sorted(out) == list(range(len(stream)))


def test_a_fixed_window_and_no_window_do_not_grow():
    stage: Reorder[int] = Reorder(window=0.0)
    run(stage, _jittered(random.Random(14), 2000, 600.0))
    assert stage.widest == 0.0 and stage.cap == 0.0
    with pytest.raises(ValueError):
        Reorder(window=0.0, max_window=60.0)
    with pytest.raises(ValueError):
        Reorder(window=60.0, max_window=30.0)


# -- a jump of the clock needs several accounts ----------------------------------------------

def _actors(stage: Reorder[str], stream: list[tuple[float, str]]) -> tuple[list[int], list[int]]:
    out: list[int] = []
    dead: list[int] = []
    for i, (t, who) in enumerate(stream):
        stage.push(i + 1, t, who, b"")
        out.extend(e.line for e in stage.ready)
        dead.extend(d[1] for d in stage.dead)
        stage.ready.clear()
        stage.dead.clear()
    stage.flush()
    out.extend(e.line for e in stage.ready)
    dead.extend(d[1] for d in stage.dead)
    return out, dead


def test_a_burst_from_one_account_never_confirms_itself():
    """Fifty consecutive far-future events from one sender (or two) stay suspects: the clock
    does not move, and they are dead-lettered once in-time events follow."""
    ts = sorted_stream(random.Random(15), 200)
    for senders in (["mallory"], ["mallory", "mallet"]):
        stream = [(t, f"u{i % 7}") for i, t in enumerate(ts[:100])]
        stream += [(ts[99] + 86_400 + k, senders[k % len(senders)]) for k in range(50)]
        stream += [(t, f"u{i % 7}") for i, t in enumerate(ts[100:])]
        stage: Reorder[str] = Reorder(actor_of=lambda who: who)
        out, dead = _actors(stage, stream)
        assert stage.jumps == 0 and dead == list(range(101, 151))
        assert stage.clock < ts[-1] + 1


def test_a_real_gap_from_several_accounts_is_confirmed():
    ts = sorted_stream(random.Random(16), 100)
    later = [(ts[-1] + 86_400 + 60 * k, f"u{k % 4}") for k in range(20)]
    stage: Reorder[str] = Reorder(actor_of=lambda who: who)
    out, dead = _actors(stage, [(t, f"u{i % 5}") for i, t in enumerate(ts)] + later)
    assert dead == [] and stage.jumps == 1 and len(out) == 120
    assert stage.clock >= later[0][0]


def test_offer_reads_a_message_s_target_by_position():
    """``offer`` reads a message's fields as one tuple: ts, sender, recipient, group first."""
    from bulkguard.events import Message
    from bulkguard.ingest.reorder import offer

    assert Message.__struct_fields__[:4] == ("ts", "sender", "recipient", "group")
    stage: Reorder = Reorder(window=0.0)
    assert offer(stage, 1, Message(ts=T0, sender="a", recipient="b"), b"") is None
    assert offer(stage, 2, Message(ts=T0, sender="a", group="g"), b"") is None
    assert offer(stage, 3, Message(ts=T0, sender="a", recipient="b", group="g"), b"")
    assert offer(stage, 4, Message(ts=T0, sender="a"), b"")
    assert len(stage) == 2 and not stage.ready   # held: stream time needs three events


def _block_lines(ts: list[float]) -> list[bytes]:
    return [b'{"type":"block","ts":%r,"blocker":"u%d","blocked":"v"}' % (t, i % 7)
            for i, t in enumerate(ts)]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 399))
def test_reordered_source_checkpoint_between_any_two_events(seed, cut):
    """A checkpoint taken after any event yielded (also inside a batch released at once)
    and resumed gives the events of one uninterrupted run, in the same order."""
    from bulkguard.ingest.reorder import ReorderedSource
    from bulkguard.ingest.sources import LineSource, MemoryDeadLetters

    rng = random.Random(seed)
    ts = sorted_stream(rng, 400, rate=3.0)
    ts = sorted(ts, key=lambda t: t + rng.uniform(0, 120))   # late beyond the 60 s floor too
    ts[rng.randrange(len(ts))] += 50_000.0                   # and one far ahead
    lines = _block_lines(ts)

    def source(start: int = 0, state=None) -> ReorderedSource:
        return ReorderedSource(LineSource(lines[start:], MemoryDeadLetters(), start=start),
                               Reorder(window=60.0), state=state)

    whole = [n for n, _ in source()]
    first = source()
    got = []
    for n, _ in first:
        got.append(n)
        if len(got) > cut:
            break
    snap = pickle.loads(pickle.dumps(first.state()))
    got += [n for n, _ in source(first.consumed, snap)]
    assert got == whole
