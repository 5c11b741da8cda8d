"""Generated from rules.toml by ``shipped_rules_module``: do not edit.

The shipped rules as plain code, so that the compiled build (mypyc) makes them
native; used only while RULES_SHA256 matches rules.toml."""

from __future__ import annotations

from typing import Any

RULES_SHA256 = "ae3c7d09b4e657cb4fa56f20ea493c894404e41c55577c6cbca5b79df0c49e85"


def doc() -> dict[str, Any]:
    """rules.toml as tomllib reads it (a new table each call)."""
    return {'version': 1,
            'platform': {'provides': ['register',
                                      'contacts',
                                      'typing',
                                      'reports',
                                      'blocks',
                                      'groups',
                                      'business']},
            'actions': {'throttle': 0.45, 'challenge': 0.75, 'suspend': 0.9, 'ban': 0.97},
            'model': {'weight': 0.6,
                      'floor': 0.5,
                      'cap': 2.0,
                      'clear': 0.05,
                      'clear_cap': 1.5,
                      'clear_when': ['recipients_total >= 3', 'reply_ratio >= 0.3'],
                      'add_when': [['digest_fanout >= 5', 'newchats_1h < 10', 'newchats_1m < 3'],
                                   ['digest_fanout >= 3',
                                    'recipients_settled >= 10',
                                    'reply_ratio_settled < 0.3']]},
            'rule': [{'code': 'BURST_TO_STRANGERS',
                      'when': ['noncontact_1m >= 8'],
                      'weight': 0.6,
                      'explain': '8+ messages within a minute to people who never wrote to the '
                                 'account'},
                     {'code': 'STRANGERS_HOURLY',
                      'when': ['noncontact_1h >= 100'],
                      'weight': 1.0,
                      'explain': '100+ messages within an hour to people who never wrote to the '
                                 'account'},
                     {'code': 'STRANGERS_DAILY',
                      'when': ['noncontact_1d >= 150'],
                      'weight': 1.0,
                      'explain': '150+ messages within a day to people who never wrote to the '
                                 'account'},
                     {'code': 'NEW_CHAT_BURST',
                      'when': ['newchats_1m >= 10'],
                      'weight': 0.2,
                      'explain': '10+ new chats opened within a minute'},
                     {'code': 'NEW_ACCOUNT_BLAST',
                      'when': ['early_msgs >= 5', 'noncontact_1h >= 5'],
                      'weight': 0.8,
                      'explain': '5+ messages in the first 10 minutes after registration, to '
                                 'strangers'},
                     {'code': 'NEW_ACCOUNT_STRANGERS',
                      'when': ['account_age_h < 24', 'noncontact_1h >= 15'],
                      'weight': 0.8,
                      'explain': 'account younger than a day writing to 15+ strangers an hour'},
                     {'code': 'NEW_ACCOUNT_CAMPAIGN',
                      'when': ['account_age_h < 24',
                               'digest_fanout >= 10',
                               'noncontact_share >= 0.9',
                               'inbound_ratio < 0.1'],
                      'weight': 0.4,
                      'explain': 'account younger than a day sending one content to 10+ people, all '
                                 'strangers, none of whom wrote to it first'},
                     {'code': 'DIGEST_FANOUT',
                      'when': ['digest_fanout >= 10'],
                      'weight': 0.5,
                      'explain': 'one content family sent to 10+ distinct recipients'},
                     {'code': 'DIGEST_FANOUT_MASS',
                      'when': ['digest_fanout >= 100'],
                      'weight': 1.2,
                      'explain': 'one content family sent to 100+ distinct recipients'},
                     {'code': 'SPUN_CONTENT_TO_STRANGERS',
                      'when': ['digest_repeat >= 20',
                               'noncontact_share >= 0.8',
                               'reply_ratio_settled < 0.5'],
                      'weight': 0.5,
                      'explain': '20+ near-identical messages, mostly to strangers, most of whom did '
                                 'not answer within an hour'},
                     {'code': 'CROSS_ACCOUNT_CONTENT',
                      'when': ['digest_accounts >= 5',
                               'digest_fanout >= 3',
                               'noncontact_share >= 0.5'],
                      'weight': 1.0,
                      'explain': 'content family repeated by 5+ accounts, sent to 3+ new recipients, '
                                 'mostly strangers'},
                     {'code': 'CROSS_ACCOUNT_CAMPAIGN',
                      'when': ['digest_accounts >= 5',
                               'digest_fanout >= 3',
                               'noncontact_share >= 0.8',
                               'reply_ratio < 0.2'],
                      'weight': 0.6,
                      'explain': 'content family repeated by 5+ accounts to strangers who do not '
                                 'answer'},
                     {'code': 'FAMILY_MEMBER_STOPPED',
                      'when': ['family_flagged >= 1', 'digest_fanout >= 3', 'noncontact_share >= 0.5'],
                      'weight': 1.0,
                      'explain': 'another account sending the same content to strangers was stopped'},
                     {'code': 'FAMILY_MEMBERS_STOPPED',
                      'when': ['family_flagged >= 3', 'digest_fanout >= 3', 'noncontact_share >= 0.5'],
                      'weight': 0.8,
                      'explain': '3+ accounts sending the same content to strangers were stopped'},
                     {'code': 'SENDS_STOPPED_CONTENT',
                      'when': ['content_flagged >= 1', 'noncontact_share >= 0.8'],
                      'weight': 1.4,
                      'explain': 'sends content that another account was stopped for sending to '
                                 'strangers, to strangers, with no conversation of its own'},
                     {'code': 'LOCKSTEP_STRANGERS',
                      'when': ['lockstep_peers >= 2',
                               'recipients_settled >= 10',
                               'reply_ratio_settled < 0.2',
                               'noncontact_share >= 0.8'],
                      'weight': 1.0,
                      'explain': 'reached 3+ of the same strangers as each of 2+ other accounts, '
                                 'within an hour of them; under 20% answered'},
                     {'code': 'LOCKSTEP_PEER_STOPPED',
                      'when': ['lockstep_flagged >= 1',
                               'recipients_settled >= 5',
                               'reply_ratio_settled < 0.3',
                               'noncontact_share >= 0.5'],
                      'weight': 1.0,
                      'explain': 'an account that reached the same strangers at the same time was '
                                 'stopped; few answered this one'},
                     {'code': 'HIGHLY_FORWARDED_SPREAD',
                      'when': ['forwarded_high >= 10'],
                      'weight': 0.8,
                      'explain': '10+ messages of content already forwarded 5+ times'},
                     {'code': 'NO_REPLIES',
                      'when': ['recipients_settled >= 20', 'reply_ratio_settled < 0.1'],
                      'weight': 0.7,
                      'explain': '20+ chats opened over an hour ago, under 10% ever answered'},
                     {'code': 'LOW_REPLIES',
                      'when': ['recipients_settled >= 50', 'reply_ratio_settled < 0.25'],
                      'weight': 0.4,
                      'explain': '50+ chats opened over an hour ago, under 25% ever answered'},
                     {'code': 'UNANSWERED_CAMPAIGN',
                      'when': ['recipients_settled >= 10',
                               'reply_ratio_settled < 0.2',
                               'digest_fanout >= 10'],
                      'weight': 0.8,
                      'explain': 'one content sent to 10+ people who had an hour to answer, under 20% '
                                 'did'},
                     {'code': 'ROBOTIC_TIMING',
                      'when': ['gap_cv < 0.25', 'msgs_1h >= 20'],
                      'weight': 0.7,
                      'explain': '20+ messages an hour at near-constant intervals'},
                     {'code': 'NO_TYPING',
                      'when': ['notype_share >= 0.9',
                               'msgs_1h >= 10',
                               'noncontact_share >= 0.5',
                               'reply_ratio_settled < 0.5'],
                      'weight': 0.5,
                      'explain': 'sends to strangers without ever typing, most of whom did not answer '
                                 'within an hour'},
                     {'code': 'REPLIED_BY_MOST',
                      'when': ['recipients_total >= 10',
                               'reply_ratio >= 0.5',
                               'noncontact_share < 0.5'],
                      'weight': -1.0,
                      'explain': 'most people written to answer (evidence of a real person)'},
                     {'code': 'CONTACT_SWEEP',
                      'when': ['sync_max >= 1000', 'sync_match_rate < 0.1'],
                      'weight': 0.7,
                      'explain': 'contact sync of 1,000+ numbers with under 10% registered'},
                     {'code': 'NEW_ACCOUNT_SWEEP',
                      'when': ['account_age_h < 24', 'sync_max >= 1000', 'sync_match_rate < 0.05'],
                      'weight': 0.8,
                      'explain': 'account younger than a day asking about 1,000+ numbers, under 5% '
                                 'registered'},
                     {'code': 'ENUMERATION',
                      'when': ['sync_numbers >= 20000'],
                      'weight': 1.5,
                      'explain': '20,000+ phone numbers looked up'},
                     {'code': 'REG_IP_CLUSTER',
                      'when': ['reg_ip_1h >= 5'],
                      'weight': 0.6,
                      'explain': '5+ registrations from one IP within an hour'},
                     {'code': 'REG_IP_FARM',
                      'when': ['reg_ip_1d >= 20'],
                      'weight': 0.8,
                      'explain': '20+ registrations from one IP within a day'},
                     {'code': 'REG_DEVICE_CLUSTER',
                      'when': ['reg_device_1d >= 3'],
                      'weight': 1.0,
                      'explain': '3+ registrations from one device within a day'},
                     {'code': 'REG_BLOCK_CLUSTER',
                      'when': ['reg_block_1d >= 5'],
                      'weight': 0.6,
                      'explain': '5+ registrations in one phone-number block within a day'},
                     {'code': 'COUNTRY_MISMATCH',
                      'when': ['registered == 1', 'country_mismatch == 1'],
                      'weight': 0.3,
                      'explain': 'phone calling code does not match the declared country'},
                     {'code': 'FARM_SIBLING_STOPPED',
                      'when': ['cluster_flagged >= 1', 'cluster_size_1d >= 3'],
                      'weight': 0.8,
                      'explain': 'an account registered on the same IP, device or number block was '
                                 'stopped'},
                     {'code': 'FARM_SIBLING_STOPPED',
                      'when': ['cluster_flagged >= 3', 'cluster_size_1d >= 3'],
                      'weight': 1.0,
                      'explain': '3+ accounts registered on the same IP, device or number block were '
                                 'stopped'},
                     {'code': 'GROUP_STRANGER_ADDS',
                      'when': ['group_adds_noncontact_1h >= 50'],
                      'weight': 0.6,
                      'explain': '50+ people who never wrote to the account added to groups within an '
                                 'hour'},
                     {'code': 'GROUP_NONCONTACT_ADDS',
                      'when': ['group_adds >= 10', 'group_noncontact_share >= 0.9'],
                      'weight': 0.3,
                      'explain': '10+ members added to groups, 90%+ of them not contacts'},
                     {'code': 'NEW_ACCOUNT_GROUP_ADDS',
                      'when': ['account_age_h < 24', 'group_adds_noncontact >= 40'],
                      'weight': 1.0,
                      'explain': 'account younger than a day adding 40+ non-contacts to groups'},
                     {'code': 'GROUP_LINK_SPAM',
                      'when': ['group_adds_noncontact >= 20',
                               'link_share >= 0.5',
                               'digest_repeat >= 3'],
                      'weight': 1.0,
                      'explain': 'fills groups with strangers and posts the same links again and '
                                 'again'},
                     {'code': 'BLOCKED_BY_RECIPIENTS',
                      'when': ['blocks >= 3', 'feedback_rate >= 0.05'],
                      'weight': 0.8,
                      'explain': '3+ blocks, 5%+ of recipients'},
                     {'code': 'REPORTED_BY_PARTNERS',
                      'when': ['reports_partner >= 2'],
                      'weight': 0.8,
                      'explain': 'reported by 2+ people it wrote to'},
                     {'code': 'REPORTED_BY_MANY_PARTNERS',
                      'when': ['reports_partner >= 5'],
                      'weight': 1.0,
                      'explain': 'reported by 5+ people it wrote to'},
                     {'code': 'REPORTED_SPAM_TEXT',
                      'when': ['report_text >= 0.8', 'reports_partner >= 1'],
                      'weight': 0.5,
                      'explain': 'reported text classified as spam'},
                     {'code': 'REPORTS_UNKNOWN_ACCOUNTS',
                      'when': ['reports_filed_stranger >= 1', 'registered == 1', 'msgs_total == 0'],
                      'weight': 0.5,
                      'explain': 'new account whose activity is reporting accounts that never wrote '
                                 'to it'},
                     {'code': 'REPORT_BRIGADE',
                      'when': ['reports_filed_stranger >= 1',
                               'cluster_size_1d >= 3',
                               'msgs_total == 0'],
                      'weight': 1.0,
                      'explain': 'reports strangers, registered in a cluster of accounts (a report '
                                 'brigade)'},
                     {'code': 'REPORT_PILE_ON',
                      'when': ['reports_filed_stranger >= 1', 'brigade_size >= 5', 'msgs_total == 0'],
                      'weight': 1.5,
                      'explain': 'only reports an account that never wrote to it, with 5+ other such '
                                 'reporters'},
                     {'code': 'POLICY_VIOLATIONS',
                      'when': ['violations >= 10'],
                      'weight': 1.0,
                      'explain': '10+ messages refused by policy'},
                     {'code': 'POLICY_VIOLATIONS_MASS',
                      'when': ['violations >= 50'],
                      'weight': 1.5,
                      'explain': '50+ messages refused by policy'}]}


def fired(v: list[float]) -> list[int]:
    out: list[int] = []
    if v[3] >= 8.0:
        out.append(0)
    if v[4] >= 100.0:
        out.append(1)
    if v[5] >= 150.0:
        out.append(2)
    if v[6] >= 10.0:
        out.append(3)
    if v[25] >= 5.0 and v[4] >= 5.0:
        out.append(4)
    if v[26] < 24.0 and v[4] >= 15.0:
        out.append(5)
    if v[26] < 24.0 and v[14] >= 10.0 and v[9] >= 0.9 and v[19] < 0.1:
        out.append(6)
    if v[14] >= 10.0:
        out.append(7)
    if v[14] >= 100.0:
        out.append(8)
    if v[13] >= 20.0 and v[9] >= 0.8 and v[21] < 0.5:
        out.append(9)
    if v[15] >= 5.0 and v[14] >= 3.0 and v[9] >= 0.5:
        out.append(10)
    if v[15] >= 5.0 and v[14] >= 3.0 and v[9] >= 0.8 and v[16] < 0.2:
        out.append(11)
    if v[35] >= 1.0 and v[14] >= 3.0 and v[9] >= 0.5:
        out.append(12)
    if v[35] >= 3.0 and v[14] >= 3.0 and v[9] >= 0.5:
        out.append(13)
    if v[63] >= 1.0 and v[9] >= 0.8:
        out.append(14)
    if v[61] >= 2.0 and v[20] >= 10.0 and v[21] < 0.2 and v[9] >= 0.8:
        out.append(15)
    if v[62] >= 1.0 and v[20] >= 5.0 and v[21] < 0.3 and v[9] >= 0.5:
        out.append(16)
    if v[56] >= 10.0:
        out.append(17)
    if v[20] >= 20.0 and v[21] < 0.1:
        out.append(18)
    if v[20] >= 50.0 and v[21] < 0.25:
        out.append(19)
    if v[20] >= 10.0 and v[21] < 0.2 and v[14] >= 10.0:
        out.append(20)
    if v[22] < 0.25 and v[1] >= 20.0:
        out.append(21)
    if v[24] >= 0.9 and v[1] >= 10.0 and v[9] >= 0.5 and v[21] < 0.5:
        out.append(22)
    if v[12] >= 10.0 and v[16] >= 0.5 and v[9] < 0.5:
        out.append(23)
    if v[38] >= 1000.0 and v[39] < 0.1:
        out.append(24)
    if v[26] < 24.0 and v[38] >= 1000.0 and v[39] < 0.05:
        out.append(25)
    if v[37] >= 20000.0:
        out.append(26)
    if v[27] >= 5.0:
        out.append(27)
    if v[28] >= 20.0:
        out.append(28)
    if v[29] >= 3.0:
        out.append(29)
    if v[30] >= 5.0:
        out.append(30)
    if v[32] == 1.0 and v[31] == 1.0:
        out.append(31)
    if v[34] >= 1.0 and v[33] >= 3.0:
        out.append(32)
    if v[34] >= 3.0 and v[33] >= 3.0:
        out.append(33)
    if v[41] >= 50.0:
        out.append(34)
    if v[43] >= 10.0 and v[46] >= 0.9:
        out.append(35)
    if v[26] < 24.0 and v[44] >= 40.0:
        out.append(36)
    if v[44] >= 20.0 and v[57] >= 0.5 and v[13] >= 3.0:
        out.append(37)
    if v[47] >= 3.0 and v[51] >= 0.05:
        out.append(38)
    if v[49] >= 2.0:
        out.append(39)
    if v[49] >= 5.0:
        out.append(40)
    if v[52] >= 0.8 and v[49] >= 1.0:
        out.append(41)
    if v[54] >= 1.0 and v[32] == 1.0 and v[58] == 0.0:
        out.append(42)
    if v[54] >= 1.0 and v[33] >= 3.0 and v[58] == 0.0:
        out.append(43)
    if v[54] >= 1.0 and v[36] >= 5.0 and v[58] == 0.0:
        out.append(44)
    if v[59] >= 10.0:
        out.append(45)
    if v[59] >= 50.0:
        out.append(46)
    return out


def total(v: list[float]) -> float:
    out = 0.0
    if v[3] >= 8.0:
        out += 0.6
    if v[4] >= 100.0:
        out += 1.0
    if v[5] >= 150.0:
        out += 1.0
    if v[6] >= 10.0:
        out += 0.2
    if v[25] >= 5.0 and v[4] >= 5.0:
        out += 0.8
    if v[26] < 24.0 and v[4] >= 15.0:
        out += 0.8
    if v[26] < 24.0 and v[14] >= 10.0 and v[9] >= 0.9 and v[19] < 0.1:
        out += 0.4
    if v[14] >= 10.0:
        out += 0.5
    if v[14] >= 100.0:
        out += 1.2
    if v[13] >= 20.0 and v[9] >= 0.8 and v[21] < 0.5:
        out += 0.5
    if v[15] >= 5.0 and v[14] >= 3.0 and v[9] >= 0.5:
        out += 1.0
    if v[15] >= 5.0 and v[14] >= 3.0 and v[9] >= 0.8 and v[16] < 0.2:
        out += 0.6
    if v[35] >= 1.0 and v[14] >= 3.0 and v[9] >= 0.5:
        out += 1.0
    if v[35] >= 3.0 and v[14] >= 3.0 and v[9] >= 0.5:
        out += 0.8
    if v[63] >= 1.0 and v[9] >= 0.8:
        out += 1.4
    if v[61] >= 2.0 and v[20] >= 10.0 and v[21] < 0.2 and v[9] >= 0.8:
        out += 1.0
    if v[62] >= 1.0 and v[20] >= 5.0 and v[21] < 0.3 and v[9] >= 0.5:
        out += 1.0
    if v[56] >= 10.0:
        out += 0.8
    if v[20] >= 20.0 and v[21] < 0.1:
        out += 0.7
    if v[20] >= 50.0 and v[21] < 0.25:
        out += 0.4
    if v[20] >= 10.0 and v[21] < 0.2 and v[14] >= 10.0:
        out += 0.8
    if v[22] < 0.25 and v[1] >= 20.0:
        out += 0.7
    if v[24] >= 0.9 and v[1] >= 10.0 and v[9] >= 0.5 and v[21] < 0.5:
        out += 0.5
    if v[12] >= 10.0 and v[16] >= 0.5 and v[9] < 0.5:
        out += -1.0
    if v[38] >= 1000.0 and v[39] < 0.1:
        out += 0.7
    if v[26] < 24.0 and v[38] >= 1000.0 and v[39] < 0.05:
        out += 0.8
    if v[37] >= 20000.0:
        out += 1.5
    if v[27] >= 5.0:
        out += 0.6
    if v[28] >= 20.0:
        out += 0.8
    if v[29] >= 3.0:
        out += 1.0
    if v[30] >= 5.0:
        out += 0.6
    if v[32] == 1.0 and v[31] == 1.0:
        out += 0.3
    if v[34] >= 1.0 and v[33] >= 3.0:
        out += 0.8
    if v[34] >= 3.0 and v[33] >= 3.0:
        out += 1.0
    if v[41] >= 50.0:
        out += 0.6
    if v[43] >= 10.0 and v[46] >= 0.9:
        out += 0.3
    if v[26] < 24.0 and v[44] >= 40.0:
        out += 1.0
    if v[44] >= 20.0 and v[57] >= 0.5 and v[13] >= 3.0:
        out += 1.0
    if v[47] >= 3.0 and v[51] >= 0.05:
        out += 0.8
    if v[49] >= 2.0:
        out += 0.8
    if v[49] >= 5.0:
        out += 1.0
    if v[52] >= 0.8 and v[49] >= 1.0:
        out += 0.5
    if v[54] >= 1.0 and v[32] == 1.0 and v[58] == 0.0:
        out += 0.5
    if v[54] >= 1.0 and v[33] >= 3.0 and v[58] == 0.0:
        out += 1.0
    if v[54] >= 1.0 and v[36] >= 5.0 and v[58] == 0.0:
        out += 1.5
    if v[59] >= 10.0:
        out += 1.0
    if v[59] >= 50.0:
        out += 1.5
    return out


def clear_ok(v: list[float]) -> float:
    out = 0.0
    if v[12] >= 3.0 and v[16] >= 0.3:
        out += 1.0
    return out


def add_ok(v: list[float]) -> float:
    out = 0.0
    if v[14] >= 5.0 and v[7] < 10.0 and v[6] < 3.0:
        out += 1.0
    if v[14] >= 3.0 and v[20] >= 10.0 and v[21] < 0.3:
        out += 1.0
    return out
