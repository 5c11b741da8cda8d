"""Statements of reasons (EU Digital Services Act, Art. 17) for every account action.

Each ``throttle``, ``challenge``, ``suspend`` and ``ban`` gets one statement in the field
layout of the DSA Transparency Database's statement API (``POST /api/v1/statement``): the
names and enumerated values below are that API's. Mapping (docs/service.md has the table):

* ``throttle``, ``challenge`` -> ``decision_provision = DECISION_PROVISION_PARTIAL_SUSPENSION``
  (sending capped or held until re-verification; the account keeps receiving);
* ``suspend`` -> ``decision_account = DECISION_ACCOUNT_SUSPENDED`` (with
  ``end_date_account_restriction`` when a reviewer gave an end);
* ``ban`` -> ``decision_account = DECISION_ACCOUNT_TERMINATED``.
* ground: the platform's terms (``DECISION_GROUND_INCOMPATIBLE_CONTENT`` with the terms'
  clause and an explanation from the reason codes); category
  ``STATEMENT_CATEGORY_SCAMS_AND_FRAUD`` when scam reports are among the reasons, else
  ``STATEMENT_CATEGORY_OTHER_VIOLATION_TC``, with keywords (inauthentic accounts,
  coordinated harm) from the reason codes;
* ``automated_detection`` "Yes" for the engine's decisions; ``automated_decision``
  ``AUTOMATED_DECISION_FULLY`` for the engine, ``AUTOMATED_DECISION_NOT_AUTOMATED`` for a
  reviewer's; ``source_type`` ``SOURCE_VOLUNTARY`` (own-initiative detection), or
  ``SOURCE_TYPE_OTHER_NOTIFICATION`` when user reports are among the reasons.

No personal data goes into a statement (the database forbids it): not the account id,
only reason codes and their sentences. ``redress`` (Art. 17(3)(f)) is not a field of the
database; the service returns it beside the statement.

>>> s = statement("ban", 1_700_000_000.0, ["BURST_TO_STRANGERS"], "puid-1",
...               explain={"BURST_TO_STRANGERS": "8+ messages to non-contacts within a minute"})
>>> s["decision_account"], s["automated_decision"], s["category"]
('DECISION_ACCOUNT_TERMINATED', 'AUTOMATED_DECISION_FULLY', 'STATEMENT_CATEGORY_OTHER_VIOLATION_TC')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

#: Actions that restrict an account and so need a statement.
RESTRICTIONS = ("throttle", "challenge", "suspend", "ban")

EU = ("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
      "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE")


@dataclass(frozen=True)
class StatementConfig:
    """The platform's part of a statement: its terms and redress routes."""

    terms_ground: str = ("Terms of Service: no bulk, automated or unsolicited messaging, "
                         "no inauthentic accounts")
    terms_url: str = ""
    territorial_scope: tuple[str, ...] = EU
    redress: dict[str, str] = field(default_factory=lambda: {
        "internal_complaint_handling": "Appeal in the app (Settings > Account > Appeal) within "
                                       "six months; a person reviews every appeal (DSA Art. 20).",
        "out_of_court_dispute_settlement": "A certified out-of-court dispute settlement body "
                                           "(DSA Art. 21).",
        "judicial_redress": "The courts of the Member State where you live.",
    })


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d")


def _facts(action: str, reasons: list[str], explain: dict[str, str], automated: bool,
           note: str | None) -> str:
    who = "Automated detection on messaging metadata (rates, recipients, registration, " \
          "reports and blocks; no message content)" if automated else "A reviewer's decision"
    parts = [f"{who} led to: {action}."]
    for code in reasons:
        text = explain.get(code, "")
        parts.append(f"{code}: {text}." if text else f"{code}.")
    if note:
        parts.append(f"Reviewer's note: {note}")
    return " ".join(parts)[:5000]


def statement(action: str, ts: float, reasons: list[str], puid: str, *,
              explain: dict[str, str] | None = None, automated: bool = True,
              business: bool = False, until: float | None = None, note: str | None = None,
              earlier_automated: bool = False,
              config: StatementConfig | None = None) -> dict[str, Any]:
    """One statement of reasons, DSA Transparency Database fields."""
    cfg = config or StatementConfig()
    explain = explain or {}
    s: dict[str, Any] = {}
    if action in ("throttle", "challenge"):
        s["decision_provision"] = "DECISION_PROVISION_PARTIAL_SUSPENSION"
    elif action == "suspend":
        s["decision_account"] = "DECISION_ACCOUNT_SUSPENDED"
    elif action == "ban":
        s["decision_account"] = "DECISION_ACCOUNT_TERMINATED"
    else:
        raise ValueError(f"no statement of reasons for action {action!r}")
    s["account_type"] = "ACCOUNT_TYPE_BUSINESS" if business else "ACCOUNT_TYPE_PRIVATE"
    s["decision_ground"] = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    if cfg.terms_url:
        s["decision_ground_reference_url"] = cfg.terms_url
    s["incompatible_content_ground"] = cfg.terms_ground[:500]
    text = "; ".join(f"{c} ({explain[c]})" if explain.get(c) else c for c in reasons)
    s["incompatible_content_explanation"] = \
        (f"The account's activity matched: {text}." if text else "See decision_facts.")[:2000]
    s["incompatible_content_illegal"] = "No"
    s["content_type"] = ["CONTENT_TYPE_OTHER"]
    s["content_type_other"] = "Messaging account activity (metadata of messages sent)"
    scam = any("SCAM" in c for c in reasons)
    s["category"] = "STATEMENT_CATEGORY_SCAMS_AND_FRAUD" if scam else \
        "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"
    keywords = []
    if any(c.startswith(("FARM", "REG_", "REGISTRATION")) or "CLUSTER" in c for c in reasons):
        keywords.append("KEYWORD_INAUTHENTIC_ACCOUNTS")
    if any("COORD" in c or "SIBLING" in c or "CROSS" in c for c in reasons):
        keywords.append("KEYWORD_COORDINATED_HARM")
    keywords.append("KEYWORD_OTHER")
    s["category_specification"] = keywords
    s["category_specification_other"] = "Bulk or automated unsolicited messaging (spam)"
    s["territorial_scope"] = list(cfg.territorial_scope)
    s["content_date"] = _date(ts)
    s["application_date"] = _date(ts)
    if action == "suspend":
        s["end_date_account_restriction"] = _date(until) if until is not None else None
    s["decision_facts"] = _facts(action, reasons, explain, automated, note)
    reports = any(c.startswith(("REPORT", "REPORTED")) or "REPORT" in c for c in reasons)
    s["source_type"] = "SOURCE_TYPE_OTHER_NOTIFICATION" if reports and automated \
        else "SOURCE_VOLUNTARY"
    s["automated_detection"] = "Yes" if automated or earlier_automated else "No"
    s["automated_decision"] = "AUTOMATED_DECISION_FULLY" if automated else \
        "AUTOMATED_DECISION_NOT_AUTOMATED"
    s["puid"] = puid
    return s
