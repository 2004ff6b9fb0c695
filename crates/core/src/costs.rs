//! Money: what paid generators cost, the price table they are priced from, and the budget day.
//!
//! Amounts are whole micro-dollars ([`Usd`]), so a ledger sums exactly ("18 clips at $0.42" is
//! $7.56, not $7.5600000001). Prices are configuration, not code: the documented defaults in
//! `default-prices.yaml`, overridden by `<config>/prices.yaml` and by a channel's `prices:`. See
//! docs/costs.md for the table and how a budget is checked.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

/// An amount of US dollars in whole micro-dollars.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Usd(pub i64);

impl Usd {
    /// Zero dollars.
    pub const ZERO: Usd = Usd(0);

    /// Dollars, rounded to the micro-dollar.
    pub fn from_dollars(d: f64) -> Usd {
        Usd((d * 1_000_000.0).round() as i64)
    }

    /// As dollars (for display and JSON).
    pub fn dollars(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }

    /// `self × n`, saturating.
    pub fn times(self, n: i64) -> Usd {
        Usd(self.0.saturating_mul(n))
    }
}

impl std::ops::Add for Usd {
    type Output = Usd;
    fn add(self, o: Usd) -> Usd {
        Usd(self.0.saturating_add(o.0))
    }
}

impl std::ops::Sub for Usd {
    type Output = Usd;
    fn sub(self, o: Usd) -> Usd {
        Usd(self.0.saturating_sub(o.0))
    }
}

impl std::iter::Sum for Usd {
    fn sum<I: Iterator<Item = Usd>>(iter: I) -> Usd {
        iter.fold(Usd::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Usd {
    /// Cents for amounts of a cent or more (`$7.56`); small amounts keep their digits (`$0.0033`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let micro = self.0.unsigned_abs();
        if micro >= 10_000 || micro == 0 {
            let cents = (micro + 5_000) / 10_000;
            write!(f, "{sign}${}.{:02}", cents / 100, cents % 100)
        } else {
            let s = format!("{:06}", micro);
            write!(f, "{sign}$0.{}", s.trim_end_matches('0'))
        }
    }
}

/// What a price is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceUnit {
    /// One generated image.
    Image,
    /// One second of generated video or sound.
    Second,
    /// One character of narration text.
    Character,
    /// One call, whatever it makes.
    Call,
}

impl PriceUnit {
    /// The unit's name in the ledger and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            PriceUnit::Image => "image",
            PriceUnit::Second => "second",
            PriceUnit::Character => "character",
            PriceUnit::Call => "call",
        }
    }
}

/// One line of the price table: US dollars per unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSpec {
    /// Dollars per unit.
    pub usd: f64,
    /// The unit.
    pub per: PriceUnit,
}

/// A price, exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    /// Per unit.
    pub unit_price: Usd,
    /// The unit.
    pub per: PriceUnit,
}

/// The prices of every paid model, keyed `provider/model` or `provider/model/mode`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

/// The documented defaults (shipped with the app; see the comments in the file).
pub const DEFAULT_PRICES_YAML: &str = include_str!("../default-prices.yaml");

/// The file in the configuration folder whose lines replace the defaults.
pub const PRICES_FILE: &str = "prices.yaml";

impl PriceTable {
    /// The shipped defaults.
    pub fn defaults() -> PriceTable {
        let mut t = PriceTable::default();
        // The shipped file is checked by a test; a broken one would leave every model unpriced,
        // which the worker reports (a paid step does not run without a price).
        if let Ok(specs) = parse_prices(DEFAULT_PRICES_YAML, "default-prices.yaml") {
            t.apply(&specs);
        }
        t
    }

    /// The defaults with `<config_dir>/prices.yaml` over them (when it exists).
    pub fn load(config_dir: &Path) -> Result<PriceTable> {
        let mut t = PriceTable::defaults();
        let path = config_dir.join(PRICES_FILE);
        if path.is_file() {
            let bytes = crate::workspace::read_regular_file(&path, 1024 * 1024)?;
            let text = String::from_utf8(bytes).map_err(|_| CoreError::Config {
                file: path.display().to_string(),
                message: "the file is not UTF-8 text".into(),
            })?;
            t.apply(&parse_prices(&text, &path.display().to_string())?);
        }
        Ok(t)
    }

    /// This table with a channel's lines over it.
    pub fn with(&self, overrides: &BTreeMap<String, PriceSpec>) -> PriceTable {
        let mut t = self.clone();
        t.apply(overrides);
        t
    }

    fn apply(&mut self, specs: &BTreeMap<String, PriceSpec>) {
        for (k, s) in specs {
            self.prices.insert(
                k.clone(),
                Price {
                    unit_price: Usd::from_dollars(s.usd),
                    per: s.per,
                },
            );
        }
    }

    /// The price of a key.
    pub fn get(&self, key: &str) -> Option<Price> {
        self.prices.get(key).copied()
    }

    /// Every line, in key order.
    pub fn lines(&self) -> impl Iterator<Item = (&str, Price)> {
        self.prices.iter().map(|(k, p)| (k.as_str(), *p))
    }

    /// What `units` of `key` cost, or an error a creator can act on when the table has no line
    /// for it (a paid step never runs unpriced: the budget could not be kept).
    pub fn quote(&self, provider: &str, model: &str, key: &str, units: i64) -> Result<Quote> {
        let price = self.get(key).ok_or_else(|| CoreError::Config {
            file: PRICES_FILE.into(),
            message: format!(
                "no price for {key}: add `{key}: {{ usd: <dollars>, per: <image|second|character|call> }}` to prices.yaml in the configuration folder or to the channel's `prices:`"
            ),
        })?;
        Ok(Quote {
            provider: provider.to_string(),
            model: model.to_string(),
            units,
            unit: price.per,
            unit_price: price.unit_price,
        })
    }
}

/// Parses and checks a price table's text.
pub fn parse_prices(text: &str, file: &str) -> Result<BTreeMap<String, PriceSpec>> {
    let bad = |message: String| CoreError::Config {
        file: file.to_string(),
        message,
    };
    let specs: BTreeMap<String, PriceSpec> = if text.trim().is_empty() {
        BTreeMap::new()
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| bad(e.to_string()))?
    };
    for (k, s) in &specs {
        check_price(k, s).map_err(bad)?;
    }
    Ok(specs)
}

/// A price line's key names a provider and a model, and its amount is a finite, non-negative
/// number of dollars.
pub fn check_price(key: &str, s: &PriceSpec) -> std::result::Result<(), String> {
    let parts: Vec<&str> = key.split('/').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.trim().is_empty()) {
        return Err(format!(
            "{key}: a price is keyed `provider/model` or `provider/model/mode` (e.g. kling/kling-v2-5-turbo/std)"
        ));
    }
    if !s.usd.is_finite() || s.usd < 0.0 || s.usd > 1000.0 {
        return Err(format!(
            "{key}: usd {} must be a number of dollars from 0 to 1000",
            s.usd
        ));
    }
    Ok(())
}

/// What one paid call costs (before it runs: an estimate from the units asked for; after: the
/// units the provider reported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// `gemini`, `kling`, `elevenlabs`.
    pub provider: String,
    /// The model (with the mode for Kling: `kling-v2-5-turbo std`).
    pub model: String,
    /// How many units.
    pub units: i64,
    /// Of what.
    pub unit: PriceUnit,
    /// The price used.
    pub unit_price: Usd,
}

impl Quote {
    /// The amount.
    pub fn total(&self) -> Usd {
        self.unit_price.times(self.units)
    }

    /// The same price for other units (what the provider reported using).
    pub fn with_units(&self, units: i64) -> Quote {
        Quote {
            units,
            ..self.clone()
        }
    }
}

/// The time the budget and the ledger go by: the system clock, plus an offset tests move (a test
/// cannot wait a day for a budget to renew).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

/// A channel's budget day: midnight to midnight in its time zone (UTC unless the channel names
/// one, e.g. `budget_time_zone: Europe/Berlin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetDay {
    /// The date.
    pub date: NaiveDate,
    /// Its first millisecond, epoch ms.
    pub start_ms: i64,
    /// The first millisecond of the next day, epoch ms.
    pub end_ms: i64,
}

impl BudgetDay {
    /// The day `at` falls in, in `tz`.
    pub fn of(at: DateTime<Utc>, tz: chrono_tz::Tz) -> BudgetDay {
        let local = at.with_timezone(&tz);
        let date = local.date_naive();
        BudgetDay {
            date,
            start_ms: day_start_ms(date, tz),
            end_ms: day_start_ms(date.succ_opt().unwrap_or(date), tz),
        }
    }

    /// The date as `2026-12-05`.
    pub fn label(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}",
            self.date.year(),
            self.date.month(),
            self.date.day()
        )
    }
}

/// Midnight of `date` in `tz` (the first valid instant of that date, for zones whose clocks skip
/// midnight).
fn day_start_ms(date: NaiveDate, tz: chrono_tz::Tz) -> i64 {
    let mut t = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..4 {
        if let Some(dt) = tz.from_local_datetime(&t).earliest() {
            return dt.timestamp_millis();
        }
        t += chrono::Duration::hours(1);
    }
    Utc.from_utc_datetime(&t).timestamp_millis()
}

/// Parses a time-zone name (`UTC`, `Europe/Berlin`).
pub fn parse_time_zone(name: &str) -> std::result::Result<chrono_tz::Tz, String> {
    name.parse::<chrono_tz::Tz>().map_err(|_| {
        format!("budget_time_zone: {name:?} is not a time zone name (e.g. UTC, Europe/Berlin, America/New_York)")
    })
}

/// The message of a task that waits for its channel's budget (not an error: it resumes by itself).
pub fn budget_reached_message(spent: Usd, budget: Usd, next: Usd) -> String {
    format!(
        "budget reached: {spent} of {budget} today (the next item costs {next}) — resumes tomorrow or raise the budget (budget_daily_usd in the channel file)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_and_shown_in_cents_or_their_own_digits() {
        let clip = Usd::from_dollars(0.042).times(10);
        assert_eq!(clip, Usd::from_dollars(0.42));
        assert_eq!(clip.times(18).to_string(), "$7.56");
        assert_eq!(Usd::from_dollars(0.00022).times(15).to_string(), "$0.0033");
        assert_eq!(Usd::ZERO.to_string(), "$0.00");
        assert_eq!(Usd::from_dollars(1.005).to_string(), "$1.01");
    }

    #[test]
    fn the_shipped_price_table_parses_and_prices_every_default_model() {
        let specs = parse_prices(DEFAULT_PRICES_YAML, "default-prices.yaml").unwrap();
        assert!(specs.len() >= 10);
        let t = PriceTable::defaults();
        let q = t
            .quote(
                "kling",
                "kling-v2-5-turbo std",
                "kling/kling-v2-5-turbo/std",
                10,
            )
            .unwrap();
        assert_eq!(q.total(), Usd::from_dollars(0.42));
        let g = t
            .quote(
                "gemini",
                "gemini-2.5-flash-image",
                "gemini/gemini-2.5-flash-image",
                1,
            )
            .unwrap();
        assert_eq!(g.total().to_string(), "$0.04");
        assert_eq!(g.unit, PriceUnit::Image);
    }

    #[test]
    fn a_config_file_and_a_channel_override_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PRICES_FILE),
            "kling/kling-v2-5-turbo/std: { usd: 0.05, per: second }\nacme/paint: { usd: 1, per: call }\n",
        )
        .unwrap();
        let t = PriceTable::load(dir.path()).unwrap();
        assert_eq!(
            t.get("kling/kling-v2-5-turbo/std").unwrap().unit_price,
            Usd::from_dollars(0.05)
        );
        assert!(t.get("acme/paint").is_some());
        assert!(t.get("gemini/gemini-2.5-flash-image").is_some());
        let mut ch = BTreeMap::new();
        ch.insert(
            "acme/paint".to_string(),
            PriceSpec {
                usd: 2.0,
                per: PriceUnit::Call,
            },
        );
        assert_eq!(
            t.with(&ch).get("acme/paint").unwrap().unit_price,
            Usd::from_dollars(2.0)
        );
    }

    #[test]
    fn a_bad_price_file_names_the_file_and_the_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PRICES_FILE),
            "kling: { usd: -1, per: second }\n",
        )
        .unwrap();
        let e = PriceTable::load(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("prices.yaml") && e.contains("provider/model"),
            "{e}"
        );
        std::fs::write(
            dir.path().join(PRICES_FILE),
            "kling/x: { usd: 0.1, per: fortnight }\n",
        )
        .unwrap();
        let e = PriceTable::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("prices.yaml"), "{e}");
        let e = PriceTable::defaults()
            .quote("acme", "paint", "acme/paint", 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no price for acme/paint"), "{e}");
    }

    #[test]
    fn a_budget_day_runs_midnight_to_midnight_in_its_time_zone() {
        let at = Utc.with_ymd_and_hms(2026, 12, 5, 23, 30, 0).unwrap();
        let utc = BudgetDay::of(at, chrono_tz::UTC);
        assert_eq!(utc.label(), "2026-12-05");
        assert_eq!(utc.end_ms - utc.start_ms, 86_400_000);
        let berlin = BudgetDay::of(at, parse_time_zone("Europe/Berlin").unwrap());
        assert_eq!(berlin.label(), "2026-12-06");
        assert_eq!(
            berlin.start_ms,
            Utc.with_ymd_and_hms(2026, 12, 5, 23, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        assert!(parse_time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn a_moved_clock_moves_every_clone() {
        let c = Clock::default();
        let d = c.clone();
        let before = d.now();
        c.advance(chrono::Duration::days(1));
        assert!(d.now() - before >= chrono::Duration::days(1));
    }
}
