"""The ``bulkguard`` command line. Each subcommand's work lives in its own module,
imported only when that subcommand runs, so the CLI starts fast."""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn


def _workers(text: str) -> int | str:
    """``--workers``: ``auto`` or a whole number of at least 1."""
    if text == "auto":
        return text
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: 'auto' or a whole number of at least 1")
    return n


def _lazy(target: str):
    """``"pkg.module:function"`` -> a function that imports it on call."""
    mod, func = target.split(":")

    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(mod), func)(args)

    return run


class _Version(argparse.Action):
    """``--version``: worked out only when asked (it imports the engine to see its build)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from bulkguard.build_info import version_line
        print(version_line())
        parser.exit()


def engine_args(p: argparse.ArgumentParser) -> None:
    """``--rules`` and ``--model``: what every command that builds an engine takes."""
    p.add_argument("--rules", help="rules TOML file (default: the shipped rules)")
    p.add_argument("--model", help="model file (default: the shipped model; 'none' for rules only)")


# The service's subcommands (added by bulkguard.service.cli), and all of them.
SERVICE_COMMANDS = ("serve", "keys", "audit", "statements")
COMMANDS = ("replay", "explain", "simulate", "evaluate", "demo", "train", "business",
            "qr") + SERVICE_COMMANDS


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with ``only`` a known command's name just that command
    (what :func:`main` parses a command with: building every subcommand's parser took about
    a tenth of the start-up of a replay; the command's own parser is the same either way)."""
    def want(name: str) -> bool:
        return only is None or only == name

    p = argparse.ArgumentParser(prog="bulkguard",
                                description="Stop automated bulk messaging from platform metadata.")
    p.add_argument("--version", action=_Version, nargs=0,
                   help="print the version and which build runs (compiled or pure Python)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    if want("replay"):
        r = sub.add_parser("replay", help="replay an events file and write decisions")
        r.add_argument("events", help="events JSONL file, .gz, or - for stdin")
        r.add_argument("--out", required=True, help="decisions JSONL file to write")
        r.add_argument("--rejected",
                       help="dead-letter file for bad lines (default: next to --out)")
        r.add_argument("--strict", action="store_true", help="stop at the first bad line (exit 2)")
        engine_args(r)
        r.add_argument("--state", help="checkpoint directory: a killed run started again resumes")
        r.add_argument("--checkpoint-every", type=int, default=500_000, metavar="N",
                       help="events between checkpoints with --state (default 500000)")
        r.add_argument("--scores", help="also write each account's highest score (JSONL) here")
        r.add_argument("--window", type=float, default=60.0, metavar="S",
                       help="reorder window: events up to S seconds late are applied in ts order "
                            "(0..3600, default 60; see docs/time.md)")
        r.add_argument("--max-window", type=float, default=None, metavar="S",
                       help="the reorder window grows up to S seconds while events arrive later "
                            "than --window (default 900; equal to --window: a fixed window)")
        r.add_argument("--max-ahead", type=float, default=3600.0, metavar="S",
                       help="an event more than S seconds ahead of the stream's time is held until "
                            "later events confirm it, else dead-lettered (default 3600)")
        r.add_argument("--workers", type=_workers, default="auto", metavar="N|auto",
                       help="2: read and decode the input in a second process, the engine in "
                            "this one (same decisions; compiled build; not with --state); "
                            "1: one process; auto (default): 2 with the compiled build, two "
                            "usable CPUs, an input file and no --state, else 1")
        r.add_argument("--quiet", action="store_true", help="no progress bar")
        r.set_defaults(run=_lazy("bulkguard.ingest.replay:run"))

    if want("explain"):
        x = sub.add_parser("explain", help="replay events and explain an account's decisions")
        x.add_argument("account")
        x.add_argument("--events", required=True, help="events JSONL file, .gz, or - for stdin")
        engine_args(x)
        x.add_argument("--json", action="store_true", help="print the explanation as JSON")
        x.set_defaults(run=_lazy("bulkguard.explain:run"))

    if want("simulate"):
        s = sub.add_parser("simulate", help="generate a labeled traffic scenario")
        s.add_argument("--out", required=True,
                       help="output directory (events.jsonl, labels.jsonl)")
        s.add_argument("--seed", type=int, default=1)
        s.add_argument("--accounts", type=int, default=5000, help="number of human accounts")
        s.add_argument("--days", type=float, default=3.0)
        s.add_argument("--background",
                       help="SNAP temporal edge list (SRC DST UNIXTS), optionally .gz")
        s.add_argument("--mix", help="abuser mix: 'default', or archetype=count,... ")
        s.add_argument("--without", metavar="FAMILY[,FAMILY]",
                       help="leave out optional event families: contacts, register, regmeta, typing, "
                            "digests, reports, blocks, groups, business (see docs/simulator.md)")
        s.add_argument("--cold-start", action="store_true",
                       help="start on a live platform: abusive accounts existed before the window "
                            "(no register events for them), and so did the contacts between "
                            "accounts that were there (no contact_add)")
        s.add_argument("--random-missing", type=int, metavar="K",
                       help="training variant K of the seed: random families missing, sometimes a "
                            "cold start (refused for the held-out seeds 1-20)")
        s.set_defaults(run=_lazy("bulkguard.sim.cli:run"))

    if want("evaluate"):
        e = sub.add_parser("evaluate", help="score a decisions file against a labeled scenario")
        e.add_argument("--events", required=True)
        e.add_argument("--labels", required=True)
        e.add_argument("--decisions", required=True)
        e.add_argument("--report", help="directory for report.md, report.html and plots")
        e.add_argument("--json", dest="json_out", help="also write the metrics as JSON here")
        e.add_argument("--scores", help="per-account scores JSONL ({\"account\", \"max_score\"}); "
                                        "default: each account's max decision score")
        e.add_argument("--baseline", metavar="DECISIONS",
                       help="a second decisions file to compare against (e.g. the rate limiter)")
        e.set_defaults(run=_lazy("bulkguard.eval.cli:run"))

    if want("demo"):
        d = sub.add_parser("demo", help="simulate a scenario, replay it, evaluate it")
        d.add_argument("--out", default="demo-out")
        d.add_argument("--seed", type=int, default=7)
        d.add_argument("--accounts", type=int, default=3000)
        d.add_argument("--days", type=float, default=2.0)
        d.add_argument("--background", help="SNAP temporal edge list to mix in (default: none)")
        d.set_defaults(run=_lazy("bulkguard.demo:run"))

    if want("train"):
        t = sub.add_parser("train", help="train the detection model on labeled scenarios")
        t.add_argument("--scenarios", nargs="+", required=True, help="scenario directories")
        t.add_argument("--out", required=True, help="model file to write (model card beside it)")
        t.set_defaults(run=_lazy("bulkguard.scoring.train:run"))

    if want("business"):
        b = sub.add_parser("business", help="business lane tools")
        bsub = b.add_subparsers(dest="business_command", required=True, metavar="SUBCOMMAND")
        bs = bsub.add_parser("status", help="tier, quality, paused templates of a business")
        bs.add_argument("account")
        bs.add_argument("--events", required=True)
        engine_args(bs)
        bs.set_defaults(run=_lazy("bulkguard.policy.cli:status"))

    if want("qr"):
        q = sub.add_parser("qr", help="signed contact QR codes and click-to-chat links")
        qsub = q.add_subparsers(dest="qr_command", required=True, metavar="SUBCOMMAND")
        qi = qsub.add_parser("issue", help="issue a QR code and link for an account")
        qi.add_argument("account")
        qi.add_argument("--prefill", help="text to prefill in the chat (max 140 characters)")
        qi.add_argument("--business", action="store_true", help="a business code (opt-in on scan)")
        qi.add_argument("--out", required=True, help="PNG or SVG file")
        qi.add_argument("--db", help="key and generation store directory")
        qi.add_argument("--base-url", help="click-to-chat base URL "
                                           "(default: $BULKGUARD_QR_BASE_URL or https://chat.example/c/)")
        qi.set_defaults(run=_lazy("bulkguard.qr:cli_issue"))
        qr_ = qsub.add_parser("resolve", help="verify a token or link; print the account")
        qr_.add_argument("token")
        qr_.add_argument("--db")
        qr_.add_argument("--base-url", help="the only base URL whose links are accepted "
                                            "(default: $BULKGUARD_QR_BASE_URL or https://chat.example/c/)")
        qr_.set_defaults(run=_lazy("bulkguard.qr:cli_resolve"))
        qx = qsub.add_parser("reset", help="revoke every earlier code of an account")
        qx.add_argument("account")
        qx.add_argument("--db")
        qx.set_defaults(run=_lazy("bulkguard.qr:cli_reset"))

    if only is None or only in SERVICE_COMMANDS:
        from bulkguard.service.cli import add_parsers
        add_parsers(sub, _lazy)
    return p


def main(argv: Sequence[str] | None = None, *, exit_now: bool = False) -> int:
    """Run one command; its exit code. ``exit_now`` (the ``bulkguard`` command itself, not
    a caller in the same process): a replay runs without the cyclic garbage collector and
    ends the process as soon as its outputs are closed (see :func:`entry`)."""
    if exit_now:
        gc.disable()   # start-up allocates much and frees little (on again below unless replay)
    argv = sys.argv[1:] if argv is None else list(argv)
    first = argv[0] if argv else None
    args = build_parser(first if first in COMMANDS else None).parse_args(argv)
    if args.command in ("replay", "demo", "serve"):
        from bulkguard.build_info import fallback_warning
        warning = fallback_warning()
        if warning:
            print(warning, file=sys.stderr)
    fast = exit_now and args.command == "replay"
    if exit_now and not fast:
        gc.enable()    # a replay runs without it: loading makes garbage, the state no cycles
    try:
        code = int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        code = 0
    if fast:
        _exit(code)
    return code


def _exit(code: int) -> NoReturn:
    """End the process now. Replay has closed (and flushed) every output when it returns;
    what is left is the interpreter's teardown, which frees the whole state object by
    object (about 3% of a replay of a million events) and would change nothing on disk.
    Standard output and error are flushed first (a failed flush exits 120, as Python does)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            code = code or 120
    os._exit(code)


def entry() -> int:
    """The ``bulkguard`` command and ``python -m bulkguard``."""
    return main(exit_now=True)


if __name__ == "__main__":
    sys.exit(entry())
