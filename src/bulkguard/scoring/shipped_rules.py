"""Generated from rules.toml by ``shipped_rules_module``: do not edit.

The shipped rules as plain code, so that the compiled build (mypyc) makes them
native; used only while RULES_SHA256 matches rules.toml."""

from __future__ import annotations

RULES_SHA256 = "ae3c7d09b4e657cb4fa56f20ea493c894404e41c55577c6cbca5b79df0c49e85"


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
