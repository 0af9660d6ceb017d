//! Free text as partners write it: what counts as blank, and which characters can
//! change the direction of what surrounds them (docs/DECISIONS.md, "Invisible and
//! direction-changing characters").
//!
//! Text is stored exactly as given. These functions only judge it ([`is_blank`], used
//! by every blank check of `decide`) or help a reader show it harmlessly
//! ([`is_bidi_control`], [`escape_bidi_controls`]).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is invisible: Unicode white space, or a *default ignorable* code point
/// (Unicode's `Default_Ignorable_Code_Point` property, as of Unicode 15.1): the soft
/// hyphen U+00AD, the combining grapheme joiner U+034F, the Arabic letter mark U+061C,
/// the Hangul fillers U+115F, U+1160, U+3164, U+FFA0, U+17B4..U+17B5, the Mongolian
/// variation selectors and vowel separator U+180B..U+180F, the zero-width characters
/// and direction marks U+200B..U+200F, the bidi embeddings and overrides
/// U+202A..U+202E, U+2060..U+206F (word joiner, invisible operators, bidi isolates,
/// deprecated format characters), the variation selectors U+FE00..U+FE0F and
/// U+E0100..U+E01EF, the byte order mark U+FEFF, U+FFF0..U+FFF8, the shorthand format
/// controls U+1BCA0..U+1BCA3, the musical format controls U+1D173..U+1D17A, and the tag
/// characters and the rest of plane 14 U+E0000..U+E0FFF.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            u32::from(c),
            0x00AD
                | 0x034F
                | 0x061C
                | 0x115F..=0x1160
                | 0x17B4..=0x17B5
                | 0x180B..=0x180F
                | 0x200B..=0x200F
                | 0x202A..=0x202E
                | 0x2060..=0x206F
                | 0x3164
                | 0xFE00..=0xFE0F
                | 0xFEFF
                | 0xFFA0
                | 0xFFF0..=0xFFF8
                | 0x1BCA0..=0x1BCA3
                | 0x1D173..=0x1D17A
                | 0xE0000..=0xE0FFF
        )
}

/// Whether `text` is blank: empty, or made only of invisible characters
/// ([`is_invisible`]), so that it would show as nothing. The one blank check of the
/// domain (DOMAIN.md: text fields are "not blank").
pub fn is_blank(text: &str) -> bool {
    text.chars().all(is_invisible)
}

/// Whether `c` is a bidirectional formatting control, which can reorder the text
/// around it when shown: the embeddings and overrides U+202A..U+202E, the isolates
/// U+2066..U+2069, the marks U+200E, U+200F and U+061C.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// Whether `text` holds any bidi control ([`is_bidi_control`]).
pub fn has_bidi_controls(text: &str) -> bool {
    text.chars().any(is_bidi_control)
}

/// `text` with every bidi control written as `<U+202E>` (upper-case hex, at least four
/// digits), for a plain-text display that must not let them act; borrowed unchanged
/// when there are none.
pub fn escape_bidi_controls(text: &str) -> Cow<'_, str> {
    if !has_bidi_controls(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_bidi_control(c) {
            let _ = write!(out, "<U+{:04X}>", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_only_text_is_blank_and_anything_visible_is_not() {
        for blank in [
            "",
            " \t\n",
            "\u{200B}",
            "\u{200C}\u{200D}\u{2060}\u{FEFF}",
            "\u{00AD}\u{034F}\u{180E}\u{3164}",
            "\u{202E}\u{2066}\u{200F}\u{061C}",
            "\u{E0001}\u{E0020}\u{E007F}\u{FE0F}\u{E0100}",
            "\u{1D173}\u{1BCA0}\u{FFF0}",
        ] {
            assert!(is_blank(blank), "{blank:?}");
        }
        for text in ["a", "\u{200B}a", "\u{202E}abc", "٣", "👍", "\u{FE0F}✔"] {
            assert!(!is_blank(text), "{text:?}");
        }
    }

    #[test]
    fn bidi_controls_are_escaped_and_nothing_else_is() {
        assert_eq!(
            escape_bidi_controls("pay \u{202E}001$\u{202C} now"),
            "pay <U+202E>001$<U+202C> now"
        );
        assert!(matches!(
            escape_bidi_controls("plain العربية \u{200B}"),
            Cow::Borrowed(_)
        ));
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
        ] {
            assert!(is_bidi_control(c) && is_invisible(c), "{c:?}");
        }
        assert!(!is_bidi_control('\u{200B}'));
    }
}
