//! The street lexicon: street-type suffixes and prefixes in the languages covered, the words
//! a street name may hold, unit words, and per-word indexes into them by first letter.

/// Street types written after the street name.
pub(super) const SUFFIXES: &[&str] = &[
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "lane",
    "ln",
    "drive",
    "boulevard",
    "blvd",
    "court",
    "ct",
    "way",
    "place",
    "terrace",
    "circle",
    "highway",
    "hwy",
    "parkway",
    "pkwy",
    "square",
    "sq",
    "alley",
    "crescent",
    "close",
    "trail",
    "plaza",
    "grove",
    "gardens",
    "mews",
    "hill",
    "park",
    "row",
    "walk",
    "green",
    "view",
    "ridge",
    "point",
];

/// Street types written before the street name (many languages).
pub(super) const PREFIXES: &[&str] = &[
    "rue",
    "rua",
    "avenida",
    "avenue",
    "av",
    "via",
    "viale",
    "calle",
    "carrera",
    "estrada",
    "ul",
    "ulica",
    "strada",
    "rambla",
    "paseo",
    "piazza",
    "chemin",
    "boulevard",
    "allée",
    "praça",
    "travessa",
    "rodovia",
    "largo",
    "plac",
    "aleja",
    "caddesi",
    "sokak",
    "r",
    "cesta",
    "ulitsa",
    "p.o.",
    "po",
];

/// Street-type words written in lower case between a street's name words, in several
/// languages (`Hegedűs Gyula utca 76`, `Trg revolucije 12`, `Margrethes plads 17`).
pub(super) const STREET_WORDS: &[&str] = &[
    "utca",
    "út",
    "útja",
    "u.",
    "tér",
    "trg",
    "ulica",
    "ul.",
    "ulice",
    "plads",
    "gade",
    "vej",
    "vei",
    "veien",
    "gata",
    "gatan",
    "vägen",
    "straße",
    "strasse",
    "str.",
    "steenweg",
    "plaats",
    "laan",
    "straat",
    "allee",
    "platz",
    "weg",
    "cesta",
    "náměstí",
    "rue",
    "rua",
    "via",
    "calle",
    "avenida",
    "cours",
    "place",
    "piazza",
    "viale",
    "corso",
    "largo",
    "rambla",
    "paseo",
    "carrer",
    "camino",
    "caddesi",
    "sokak",
    "do",
    "da",
    "de",
    "del",
    "della",
    "di",
    "des",
    "du",
    "la",
    "le",
];

/// Endings of one-word street names (German, Nordic, Dutch, Hungarian, Finnish...).
pub(super) const ENDINGS: &[&str] = &[
    "straße", "strasse", "str.", "gasse", "weg", "vej", "gatan", "gata", "vägen", "veien", "laan",
    "straat", "plein", "utca", "katu", "tie", "iela", "gade", "allee", "platz", "damm", "ská",
    "ská", "ova", "ovo", "ego", "street", "road",
];

/// Per byte length (below 16), the low six bits of the first bytes of the words of a list,
/// one bit each: a word whose entry lacks its first byte's bit is not in the list.
pub(super) type WordIndex = [u64; 16];

/// The [`WordIndex`] of `list`.
pub(super) const fn word_index(list: &[&str]) -> WordIndex {
    let mut t = [0u64; 16];
    let mut k = 0;
    while k < list.len() {
        let w = list[k].as_bytes();
        if w.len() < 16 {
            t[w.len()] |= 1 << (w[0] & 63);
        } else {
            // longer words are always looked up
            let mut l = 0;
            while l < 16 {
                t[l] = u64::MAX;
                l += 1;
            }
        }
        k += 1;
    }
    t
}

/// [`word_index`] of [`SUFFIXES`].
pub(super) const SUFFIX_INDEX: WordIndex = word_index(SUFFIXES);
/// [`word_index`] of [`PREFIXES`].
pub(super) const PREFIX_INDEX: WordIndex = word_index(PREFIXES);

/// Whether `w` is in `list`, whose [`word_index`] is `index` (most words are rejected by the
/// index without a comparison).
pub(super) fn listed(index: &WordIndex, list: &[&str], w: &str) -> bool {
    let b = w.as_bytes();
    let possible = match (b.first(), index.get(b.len())) {
        (Some(&f), Some(bits)) => bits & (1 << (f & 63)) != 0,
        (Some(_), None) => true,
        (None, _) => false,
    };
    possible && list.contains(&w)
}

/// Unit and box words (followed by a number).
pub(crate) const UNITS: &[&str] = &[
    "suite ",
    "apt. ",
    "apt ",
    "apartment ",
    "p.o. box ",
    "po box ",
    "unit ",
    "ste. ",
];
