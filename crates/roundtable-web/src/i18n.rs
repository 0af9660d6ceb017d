//! The interface's languages: English, French, Spanish and Portuguese, with their
//! messages in Fluent files (`locales/*.ftl`, compiled into the binary) read by
//! `fluent-bundle`, chosen from the language switch's cookie or `Accept-Language`
//! (`fluent-langneg`). Amounts and dates are written the way each language writes
//! them. Negotiation text is never translated: it is shown as entered.

use std::sync::OnceLock;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use fluent_langneg::{NegotiationStrategy, negotiate_languages};
use unic_langid::LanguageIdentifier;

/// A language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English (the fallback).
    En,
    /// French.
    Fr,
    /// Spanish.
    Es,
    /// Portuguese.
    Pt,
}

impl Lang {
    /// Every language, in the order the switch lists them.
    pub const ALL: [Lang; 4] = [Lang::En, Lang::Fr, Lang::Es, Lang::Pt];

    /// Its BCP 47 code: `en`, `fr`, `es`, `pt`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::Es => "es",
            Lang::Pt => "pt",
        }
    }

    /// Its name in itself, for the switch.
    pub fn endonym(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Fr => "Français",
            Lang::Es => "Español",
            Lang::Pt => "Português",
        }
    }

    /// The language of code `code` (`fr`, `fr-SN`, ...), if it is one of ours.
    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code.split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// The language for a request: the switch's choice (`chosen`, the cookie) when it
    /// names one of ours, else the best match of `accept_language`, else English.
    pub fn negotiate(chosen: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = chosen.and_then(Lang::from_code) {
            return lang;
        }
        let requested = fluent_langneg::accepted_languages::parse(accept_language.unwrap_or(""));
        let available: Vec<LanguageIdentifier> = Lang::ALL
            .iter()
            .filter_map(|l| l.code().parse().ok())
            .collect();
        let default: LanguageIdentifier = "en".parse().unwrap_or_default();
        negotiate_languages(
            &requested,
            &available,
            Some(&default),
            NegotiationStrategy::Lookup,
        )
        .first()
        .and_then(|id| Lang::from_code(id.language.as_str()))
        .unwrap_or(Lang::En)
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../locales/en.ftl"),
            Lang::Fr => include_str!("../locales/fr.ftl"),
            Lang::Es => include_str!("../locales/es.ftl"),
            Lang::Pt => include_str!("../locales/pt.ftl"),
        }
    }

    fn bundle(self) -> &'static FluentBundle<FluentResource> {
        static BUNDLES: OnceLock<Vec<FluentBundle<FluentResource>>> = OnceLock::new();
        let bundles = BUNDLES.get_or_init(|| Lang::ALL.iter().map(|l| build(*l)).collect());
        let i = Lang::ALL.iter().position(|l| *l == self).unwrap_or(0);
        &bundles[i]
    }
}

fn build(lang: Lang) -> FluentBundle<FluentResource> {
    let id: LanguageIdentifier = lang.code().parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // The pages are HTML with a `lang` attribute; isolation marks would only show up
    // in copied text.
    bundle.set_use_isolating(false);
    let resource = match FluentResource::try_new(lang.source().to_owned()) {
        Ok(r) => r,
        Err((r, errors)) => {
            tracing::error!(
                lang = lang.code(),
                ?errors,
                "syntax errors in a locale file"
            );
            r
        }
    };
    if let Err(errors) = bundle.add_resource(resource) {
        tracing::error!(
            lang = lang.code(),
            ?errors,
            "duplicate messages in a locale file"
        );
    }
    bundle
}

/// Messages and formats of one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct I18n {
    /// The language.
    pub lang: Lang,
}

impl I18n {
    /// The messages of `lang`.
    pub fn new(lang: Lang) -> I18n {
        I18n { lang }
    }

    /// Message `key` (English when the language lacks it; the key itself when no
    /// language has it, which the tests rule out).
    pub fn t(&self, key: &str) -> String {
        self.args(key, &[])
    }

    /// Message `key` with named arguments.
    pub fn args(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut fluent = FluentArgs::new();
        for (name, value) in args {
            fluent.set(*name, FluentValue::from(*value));
        }
        for lang in [self.lang, Lang::En] {
            let bundle = lang.bundle();
            if let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) {
                let mut errors = Vec::new();
                let text = bundle.format_pattern(pattern, Some(&fluent), &mut errors);
                if !errors.is_empty() {
                    tracing::warn!(key, lang = lang.code(), ?errors, "message formatting");
                }
                return text.into_owned();
            }
        }
        key.to_owned()
    }

    /// A decimal amount (`2400000.5`, as recorded) with its currency, written in this
    /// language: `ZAR 2,400,000.50` (English), `2 400 000,50 ZAR` (French, with
    /// narrow no-break spaces), `2.400.000,50 ZAR` (Spanish and Portuguese).
    pub fn amount(&self, value: &str, currency: &str) -> String {
        let number = self.decimal(value);
        match self.lang {
            Lang::En => format!("{currency}\u{a0}{number}"),
            _ => format!("{number}\u{a0}{currency}"),
        }
    }

    /// A decimal number with this language's grouping and decimal separators.
    pub fn decimal(&self, value: &str) -> String {
        let (int, frac) = value.split_once('.').unwrap_or((value, ""));
        let (group, point) = match self.lang {
            Lang::En => (",", "."),
            Lang::Fr => ("\u{202f}", ","),
            Lang::Es | Lang::Pt => (".", ","),
        };
        let digits: Vec<char> = int.chars().collect();
        let mut out = String::new();
        for (i, c) in digits.iter().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push_str(group);
            }
            out.push(*c);
        }
        if !frac.is_empty() {
            out.push_str(point);
            out.push_str(frac);
        }
        out
    }

    /// A date in words: `4 May 2027`, `4 mai 2027`, `4 de mayo de 2027`.
    pub fn date(&self, date: NaiveDate) -> String {
        let month = self.t(&format!("month-{}", date.month()));
        let (day, year) = (date.day().to_string(), date.year().to_string());
        self.args(
            "date-long",
            &[("day", &day), ("month", &month), ("year", &year)],
        )
    }

    /// An instant, in UTC: the date in words and the time, `4 May 2027, 08:30 UTC`.
    pub fn datetime(&self, t: DateTime<Utc>) -> String {
        let date = self.date(t.date_naive());
        let time = t.format("%H:%M:%S").to_string();
        self.args("datetime", &[("date", &date), ("time", &time)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_comes_from_the_switch_then_accept_language() {
        assert_eq!(
            Lang::negotiate(None, Some("fr-SN,fr;q=0.9,en;q=0.5")),
            Lang::Fr
        );
        assert_eq!(Lang::negotiate(None, Some("pt-BR")), Lang::Pt);
        assert_eq!(Lang::negotiate(None, Some("de-DE,es;q=0.4")), Lang::Es);
        assert_eq!(Lang::negotiate(None, Some("de")), Lang::En);
        assert_eq!(Lang::negotiate(None, None), Lang::En);
        assert_eq!(Lang::negotiate(Some("es"), Some("fr")), Lang::Es);
        assert_eq!(Lang::negotiate(Some("xx"), Some("fr")), Lang::Fr);
    }

    #[test]
    fn amounts_and_dates_follow_the_language() {
        let d = NaiveDate::from_ymd_opt(2027, 5, 4).unwrap();
        assert_eq!(I18n::new(Lang::En).date(d), "4 May 2027");
        assert_eq!(I18n::new(Lang::Fr).date(d), "4 mai 2027");
        assert_eq!(I18n::new(Lang::Es).date(d), "4 de mayo de 2027");
        assert_eq!(I18n::new(Lang::Pt).date(d), "4 de maio de 2027");
        assert_eq!(
            I18n::new(Lang::En).amount("2400000.50", "ZAR"),
            "ZAR\u{a0}2,400,000.50"
        );
        assert_eq!(
            I18n::new(Lang::Fr).amount("2400000.50", "ZAR"),
            "2\u{202f}400\u{202f}000,50\u{a0}ZAR"
        );
        assert_eq!(I18n::new(Lang::Es).decimal("1234"), "1.234");
        assert_eq!(I18n::new(Lang::En).decimal("123"), "123");
    }

    #[test]
    fn every_language_has_every_english_message() {
        let keys = |src: &str| -> Vec<String> {
            src.lines()
                .filter(|l| !l.starts_with(['#', ' ', '\t']) && l.contains(" ="))
                .filter_map(|l| l.split(" =").next().map(str::to_owned))
                .collect()
        };
        let english = keys(Lang::En.source());
        assert!(english.len() > 50, "{} messages", english.len());
        for lang in [Lang::Fr, Lang::Es, Lang::Pt] {
            let theirs = keys(lang.source());
            let missing: Vec<&String> = english.iter().filter(|k| !theirs.contains(k)).collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", lang.code());
            assert!(lang.bundle().get_message("page-title").is_some());
        }
    }
}
