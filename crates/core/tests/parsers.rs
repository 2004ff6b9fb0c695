//! The parsers of input from outside (plan text, channel files, `Range` headers) never panic, and
//! every refusal is a clear error that names its source and the field.

use proptest::prelude::*;
use reviewdesk_core::CoreError;
use reviewdesk_core::asset::AssetPlan;
use reviewdesk_core::config::ChannelConfig;
use reviewdesk_core::workspace::{ByteRange, parse_range};

const PLAN_FIELDS: [&str; 3] = ["characters", "environments", "props"];
const CHANNEL_FIELDS: [&str; 11] = [
    "channel_id",
    "channel_name",
    "notion",
    "storage_strategy",
    "r2",
    "max_concurrent",
    "priority",
    "is_active",
    "budget_daily_usd",
    "asset_counts",
    "steps",
];

/// A YAML scalar or small structure of any shape.
fn yaml_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("~".to_string()),
        Just("''".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        "[a-zA-Z0-9_ ./-]{0,12}".prop_map(|s| format!("{s:?}")),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec(("[a-z_]{1,8}", inner), 0..3).prop_map(|v| {
                let pairs: Vec<String> = v.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", pairs.join(", "))
            }),
        ]
    })
}

/// A plan entry: mostly well-formed, sometimes not.
fn plan_entry() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => ("[a-zA-Z0-9_./-]{0,12}", prompt())
            .prop_map(|(n, p)| format!("{{name: {n:?}, prompt: {p:?}}}")),
        1 => yaml_value(),
    ]
}

/// A prompt: empty, blank, or free text carrying the marker `zq`, so that the check below can
/// tell an echoed prompt from words the message itself happens to contain.
fn prompt() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("   ".to_string()),
        "zq[a-z ]{3,10}",
    ]
}

fn plan_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(PLAN_FIELDS.to_vec()),
            prop::collection::vec(plan_entry(), 0..12),
        ),
        0..4,
    )
    .prop_map(|fields| {
        fields
            .into_iter()
            .map(|(k, v)| format!("{k}: [{}]\n", v.join(", ")))
            .collect()
    })
}

fn config_message(e: CoreError, origin: &str) -> String {
    match e {
        CoreError::Config { file, message } => {
            assert_eq!(file, origin, "the error names its source");
            assert!(!message.trim().is_empty());
            message
        }
        other => panic!("not a configuration error: {other:?}"),
    }
}

proptest! {
    #[test]
    fn any_text_as_a_plan_is_parsed_or_refused_without_panicking(text in ".{0,400}") {
        if let Err(e) = AssetPlan::parse(&text, "plan.yaml") {
            config_message(e, "plan.yaml");
        }
    }

    #[test]
    fn a_refused_plan_names_the_field_and_never_echoes_the_text(text in plan_text()) {
        match AssetPlan::parse(&text, "plan.yaml") {
            Ok(plan) => prop_assert!((18..=24).contains(&plan.assets.len())),
            Err(e) => {
                let message = config_message(e, "plan.yaml");
                prop_assert!(
                    PLAN_FIELDS.iter().any(|f| message.contains(f)) || message.starts_with("plan:"),
                    "no field named: {message}"
                );
                // Prompts are the only free text; none may come back in the message.
                for quoted in text.split('"').skip(1).step_by(2).filter(|q| q.starts_with("zq")) {
                    prop_assert!(!message.contains(quoted), "echoed {quoted:?}: {message}");
                }
            }
        }
    }

    #[test]
    fn any_text_as_a_channel_file_is_parsed_or_refused_without_panicking(text in ".{0,400}") {
        if let Err(e) = ChannelConfig::parse(&text, "c.yaml") {
            config_message(e, "c.yaml");
        }
    }

    #[test]
    fn a_refused_channel_file_names_the_field(
        fields in prop::collection::btree_map(
            prop::sample::select(CHANNEL_FIELDS.to_vec()),
            yaml_value(),
            0..6,
        )
    ) {
        let mut text = String::from("channel_id: science\nchannel_name: Science\n");
        for (k, v) in &fields {
            text.push_str(&format!("{k}: {v}\n"));
        }
        if let Err(e) = ChannelConfig::parse(&text, "c.yaml") {
            let message = config_message(e, "c.yaml");
            prop_assert!(
                CHANNEL_FIELDS.iter().any(|f| message.contains(f)),
                "no field named: {message}\n{text}"
            );
        }
    }

    #[test]
    fn any_range_header_gives_a_range_inside_the_file(value in ".{0,40}", len in 0u64..10_000) {
        check_range(&value, len);
    }

    #[test]
    fn byte_ranges_of_any_numbers_stay_inside_the_file(
        a in any::<Option<u64>>(),
        b in any::<Option<u64>>(),
        len in 0u64..10_000,
    ) {
        let part = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
        check_range(&format!("bytes={}-{}", part(a), part(b)), len);
    }
}

fn check_range(value: &str, len: u64) {
    match parse_range(value, len) {
        ByteRange::Full | ByteRange::Unsatisfiable => {}
        ByteRange::Part { start, end } => {
            assert!(
                start <= end && end < len,
                "{value:?} of {len}: {start}-{end}"
            );
        }
    }
}
