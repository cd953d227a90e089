"""Names as the field compares them: the keys the search index stores for every label and
alternative label, and computes for every query.

Two keys per name, both built with OpenSanctions' `rigour` (the normalisation behind
its matching API, yente and nomenklatura):

- `key`: case-folded, tokenised on Unicode categories (punctuation and symbols split
  words, combining marks drop), legal forms removed at either end of the name
  ("Huawei Technologies Co., Ltd." -> "huawei technologies"), and runs of Chinese,
  Japanese or Korean characters written without spaces ("华为 技术" -> "华为技术"), since
  those scripts do not separate words;
- `compact`: the key transliterated to ASCII (ICU's Any-Latin, through rigour: "华为" ->
  "hua wei", "Müller" -> "Muller") with the spaces dropped, so that "Hua Wei", "HuaWei",
  "华为" and "huawei" share one compact key.

Legal forms come from rigour's table (ISO 20275 and the OCCRP list); it is matched on
whole words, so inside a run of Chinese characters the longest trailing part that the
table names as a whole ("有限公司") is removed. A few designators the table leaves in, on
purpose for general matching, are removed here at the end of a name only, and never when
nothing would remain: see EXTRA_LEGAL_FORMS.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rigour.names import extract_org_types, tokenize_name
from rigour.text import ascii_text

#: Designators removed at the end of a name besides rigour's table of legal forms:
#: English ones it keeps as words ("ZTE Corporation" and "ZTE" are one company to a
#: screener), and the Chinese 股份 of 股份有限公司 (company limited by shares), whose
#: 有限公司 the table knows.
EXTRA_LEGAL_FORMS = frozenset({"corporation", "corp", "company", "co", "股份"})

_CJK = re.compile(r"[\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf"
                  r"\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]")


def is_cjk(char: str) -> bool:
    return bool(_CJK.match(char))


@dataclass(frozen=True)
class NameKeys:
    key: str
    compact: str
    #: True when the key is written in Latin letters (with or without accents) and
    #: digits: a compact key shared across scripts (华为 / Huawei, Ромашка / Romashka) is
    #: a transliteration, not the same spelling.
    latin: bool

    @property
    def words(self) -> list[str]:
        return self.key.split()


def _join(tokens: list[str]) -> str:
    """Tokens joined by spaces, except between two characters of a script written
    without spaces."""
    out = ""
    for token in tokens:
        if out and not (is_cjk(out[-1]) and is_cjk(token[0])):
            out += " "
        out += token
    return out


def _is_legal_form(text: str) -> bool:
    if text in EXTRA_LEGAL_FORMS:
        return True
    found = extract_org_types(text)
    return len(found) == 1 and found[0][0] == text


def _strip_legal_forms(tokens: list[str]) -> list[str]:
    """Remove legal forms at the end (and a leading one, as in "ООО Ромашка"), keeping at
    least one token."""
    tokens = list(tokens)
    changed = True
    while changed and len(tokens) > 1:
        changed = False
        for size in range(min(4, len(tokens) - 1), 0, -1):  # "co ltd" before "ltd"
            if _is_legal_form(" ".join(tokens[-size:])):
                del tokens[-size:]
                changed = True
                break
    # a leading form of three letters or more (ООО, ЗАО, PAO): short ones are too often
    # words or initials ("AT&T")
    if (len(tokens) > 1 and len(tokens[0]) >= 3 and tokens[0] not in EXTRA_LEGAL_FORMS
            and _is_legal_form(tokens[0]) and len("".join(tokens[1:])) >= 3):
        del tokens[0]
    if tokens and is_cjk(tokens[-1][-1]):  # 华为技术有限公司 -> 华为技术
        tokens[-1] = _strip_cjk_suffix(tokens[-1])
    return tokens


def _strip_cjk_suffix(run: str) -> str:
    changed = True
    while changed:
        changed = False
        for start in range(1, len(run) - 1):  # the longest trailing part first
            if _is_legal_form(run[start:]):
                run = run[:start]
                changed = True
                break
    return run


@lru_cache(maxsize=65536)
def name_keys(name: str) -> NameKeys | None:
    """The keys of a name, or None when it has no letter or digit."""
    text = unicodedata.normalize("NFKC", name).casefold()
    tokens = [t for t in tokenize_name(text) if t]
    if not tokens:
        return None
    # tokens of a script without spaces, split by stray spaces, are one word
    merged: list[str] = []
    for token in tokens:
        if merged and is_cjk(merged[-1][-1]) and is_cjk(token[0]):
            merged[-1] += token
        else:
            merged.append(token)
    key = _join(_strip_legal_forms(merged))
    if key.isascii():  # most names: no transliteration to do
        return NameKeys(key=key, compact=key.replace(" ", ""), latin=True)
    latin = all(c.isdigit() or c == " " or unicodedata.name(c, "").startswith("LATIN")
                for c in key)
    compact = "".join(c for c in ascii_text(key).lower() if c.isalnum())
    return NameKeys(key=key, compact=compact or key.replace(" ", ""), latin=latin)


def ascii_words(keys: NameKeys) -> str:
    """The key transliterated to ASCII, words kept apart ("hua wei ji shu")."""
    return " ".join(ascii_text(keys.key).lower().split())
