"""Contact-add evasion: a sender who adds each stranger just before writing, with random
digests and typing times. Its own ``contact_add`` makes no contact, so the stranger
signals stay on: stopped with a median of at most 50 messages out."""

from __future__ import annotations

import statistics

import pytest

from bulkguard.sim import attacks


def messages_out(decs: list[dict], lines: list[bytes], who: str) -> int:
    stop = next((d["line"] for d in decs if d["account"] == who and d["action"] in attacks.STOP), None)
    mine = [i for i, x in enumerate(lines, 1) if b'"sender":"%s"' % who.encode() in x]
    return len(mine) if stop is None else sum(1 for i in mine if i < stop)


@pytest.mark.parametrize("register", [True, False], ids=["new account", "from before the stream"])
def test_contact_add_evader_is_stopped_within_fifty_messages(tmp_path, register):
    outs = []
    for seed in range(1, 6):
        events, who = attacks.evader(seed, n=500, register=register, rate=1.0 + 0.2 * (seed - 3))
        lines = attacks.lines_of(events)
        outs.append(messages_out(attacks.replay_lines(lines, tmp_path / f"e{seed}.jsonl"), lines,
                                 who["evader"]))
    assert statistics.median(outs) <= 50, outs


def test_contact_add_by_the_recipient_is_a_contact_but_strangers_are_behaviour():
    """The recipient added the sender: that is a contact (``is_contact``), but whether the
    sender writes to strangers is judged by behaviour only (did they ever write to it?), so
    that a platform without address books, or a stream without them, can never raise a
    score (issue 9: removing an optional family never raises a score). A club writing to 30
    fans who added it is not stopped for that alone: the burst only throttles, and answers
    clear it."""
    from bulkguard.engine import Engine
    from bulkguard.events import ContactAdd, Message
    eng = Engine()
    for k in range(30):
        eng.handle(ContactAdd(ts=attacks.T0, account=f"fan{k}", contact="club"), 1)
    for k in range(30):   # by hand: irregular gaps (metronomic ones would look automated)
        eng.handle(Message(ts=attacks.T0 + 10 + k * 5 + (k * 7 % 5) * 1.3, sender="club",
                           recipient=f"fan{k}"), 2)
    w = eng.world
    assert all(w.is_contact(w.ids["club"], w.ids[f"fan{k}"]) for k in range(30))
    assert w.accounts["club"].n_nc == 30
    for k in range(20):   # most fans answer
        eng.handle(Message(ts=attacks.T0 + 600 + k, sender=f"fan{k}", recipient="club"), 3)
    eng.rescore(w.accounts["club"], 3, attacks.T0 + 700)
    assert w.accounts["club"].level < 2   # not challenged
