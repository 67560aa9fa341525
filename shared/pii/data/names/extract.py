"""Builds the name lists the PII engine embeds (first_names.txt, surnames.txt, common_words.txt).

Sources, all openly licensed:
- Faker's person providers (https://pypi.org/project/Faker/, MIT licence): first names and surnames of the
  locales listed below, written in Latin script (romanised lists where the locale has them).
- Mimesis's person datasets (https://pypi.org/project/mimesis/, MIT licence): first names and surnames of every
  locale it ships, those in Latin script.
- indian-fakedata (https://pypi.org/project/indian-fakedata/, MIT licence): Indian first names by religion and
  region and surnames by community, drawn from Census 2011 statistics.
- indian-names (https://pypi.org/project/indian-names/, BSD 3-Clause licence): Indian first names and surnames.
- SCOWL's American English word list as Debian ships it (package `wamerican`, /usr/share/dict/words; SCOWL's
  licence permits any use): names that are also ordinary lowercase English words go to common_words.txt, so the
  engine needs context before it takes them for names ("Will", "Grace", "Bill").

Run: python3 -m venv v && v/bin/pip install Faker==33.1.0 mimesis==22.2.0 indian-fakedata==2.1.0 indian-names==0.3
     && v/bin/python extract.py
Entries are lowercase ASCII, accents folded (é -> e, ß -> ss), as the engine compares them.
"""

import importlib
import unicodedata
from pathlib import Path

LOCALES = [
    # Indian (in Latin script), English-speaking
    "en_IN", "en_US", "en_GB", "en_IE", "en_NZ", "en_PK",
    # German, French, Spanish and Latin American, Italian, Dutch, Portuguese and Brazilian
    "de_DE", "de_AT", "de_CH", "fr_FR", "fr_BE", "fr_CA", "es_ES", "es_MX", "es_AR", "es_CO", "es_CL",
    "it_IT", "nl_NL", "nl_BE", "pt_PT", "pt_BR",
    # Vietnamese, Chinese and Japanese romanised, Turkish, Indonesian, Polish, Nordic, African
    "vi_VN", "zh_CN", "zh_TW", "ja_JP", "tr_TR", "id_ID", "pl_PL", "sv_SE", "da_DK", "no_NO", "fi_FI",
    "yo_NG", "sw", "zu_ZA", "tw_GH",
]

FIRST_ATTRS = ["first_names", "first_names_male", "first_names_female", "first_names_nonbinary",
               "first_romanized_names", "first_romanized_names_male", "first_romanized_names_female"]
LAST_ATTRS = ["last_names", "last_names_male", "last_names_female", "last_romanized_names"]


def fold(name: str) -> str:
    name = name.replace("ß", "ss").replace("ø", "o").replace("Ø", "O").replace("æ", "ae").replace("ł", "l")
    name = name.replace("đ", "d").replace("Đ", "D").replace("ı", "i")
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def words(provider, attrs):
    out = set()
    for attr in attrs:
        value = getattr(provider, attr, None)
        if not value or not isinstance(value, (list, tuple, dict, set)):
            continue
        for entry in value:
            # Multi-part entries ("de la Cruz", "Anne-Marie") contribute each part.
            for part in fold(entry).replace("-", " ").replace("'", " ").split():
                if part.isascii() and part.isalpha() and len(part) >= 2:
                    out.add(part)
    return out


def names_in(value):
    """Every `name` string in a JSON tree (lists of strings, or of {"name": ...} records)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        if isinstance(value.get("name"), str):
            yield value["name"]
        else:
            for v in value.values():
                yield from names_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from names_in(v)


def parts(names):
    out = set()
    for entry in names:
        for part in fold(entry).replace("-", " ").replace("'", " ").split():
            if part.isascii() and part.isalpha() and len(part) >= 2:
                out.add(part)
    return out


def other_sources():
    """First names and surnames from Mimesis, indian-fakedata and indian-names."""
    import importlib.util
    import json

    def package_dir(name):  # located, not imported: only their data files are read
        return Path(importlib.util.find_spec(name).submodule_search_locations[0])

    first, last = set(), set()
    for path in (package_dir("mimesis") / "datasets").glob("*/person.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        first |= parts(names_in(data.get("names", [])))
        last |= parts(names_in(data.get("surnames", [])))
    db = package_dir("indian_fakedata") / "database"
    first |= parts(names_in(json.loads((db / "names_data.json").read_text(encoding="utf-8"))))
    last |= parts(names_in(json.loads((db / "default_data.json").read_text(encoding="utf-8"))["surnames"]))
    here = package_dir("indian_names")
    for name, target in [("first.male.names", first), ("first.female.names", first), ("last.names", last)]:
        target |= parts((here / name).read_text(encoding="utf-8").split())
    return first, last


def main():
    first, last = other_sources()
    for locale in LOCALES:
        module = importlib.import_module(f"faker.providers.person.{locale}")
        provider = module.Provider
        first |= words(provider, FIRST_ATTRS)
        last |= words(provider, LAST_ATTRS)
    english = {w.strip() for w in open("/usr/share/dict/words", encoding="utf-8") if w.strip().islower()}
    particles = {"de", "la", "le", "van", "von", "der", "den", "del", "da", "di", "du", "dos", "das", "el", "al", "bin", "ben", "ter", "ten", "zu"}
    common = sorted((first | last) & english | particles)
    here = Path(__file__).parent
    (here / "first_names.txt").write_text("\n".join(sorted(first)) + "\n")
    (here / "surnames.txt").write_text("\n".join(sorted(last)) + "\n")
    (here / "common_words.txt").write_text("\n".join(common) + "\n")
    print(f"{len(first)} first names, {len(last)} surnames, {len(common)} also common words")


main()
