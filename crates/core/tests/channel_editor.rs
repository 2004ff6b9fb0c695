//! The channel editor against real channel files: an edit keeps the file's comments and other
//! keys and takes effect at once; a new channel gets its own file; bad values name their field.

use reviewdesk_core::channel_file::{ChannelForm, channel_form, save_channel};
use reviewdesk_core::{ChannelId, CoreError};
use reviewdesk_testkit::TestCore;

const FILE: &str = "# The main channel.\nchannel_id: default\nchannel_name: Default   # shown on cards\nmax_concurrent: 2\nsteps:\n  assembly: { executor: builtin }\nnarration:\n  rate: 170  # a little faster\n";

fn field_of(e: CoreError) -> String {
    match e {
        CoreError::Invalid { field, .. } => field,
        other => panic!("not a field error: {other}"),
    }
}

#[tokio::test]
async fn an_edit_keeps_the_files_comments_and_takes_effect_and_a_new_channel_gets_its_own_file() {
    let open = TestCore::new().channel(FILE).open().await;
    let core = open.core.clone();
    let file = open.path().join("cfg/channels/default.yaml");

    let mut form = channel_form(&core, "default").unwrap();
    assert_eq!(form.original_id.as_deref(), Some("default"));
    form.channel_name = "Science: Daily".into();
    form.max_concurrent = 3;
    form.budget_daily_usd = Some(12.5);
    form.narration_voice = "en-gb".into();
    let saved = save_channel(&core, form.clone()).await.unwrap();
    assert_eq!(saved.channel_name, "Science: Daily");
    let text = std::fs::read_to_string(&file).unwrap();
    for kept in [
        "# The main channel.\n",
        "   # shown on cards\n",
        "  assembly: { executor: builtin }\n",
        "  rate: 170  # a little faster\n",
    ] {
        assert!(text.contains(kept), "{kept:?} kept in:\n{text}");
    }
    let c = core.channel(&ChannelId::parse("default").unwrap()).unwrap();
    assert_eq!(
        (
            c.channel_name.as_str(),
            c.max_concurrent,
            c.budget_daily_usd,
            c.narration.voice.as_str(),
            c.narration.rate
        ),
        ("Science: Daily", 3, Some(12.5), "en-gb", 170),
        "the running app uses the new values"
    );

    // A bad value is refused with its field named, and the file is left as it was.
    let e = save_channel(
        &core,
        ChannelForm {
            max_concurrent: 11,
            ..form.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(e), "max_concurrent");
    let e = save_channel(
        &core,
        ChannelForm {
            narration_voice: "en us".into(),
            ..form.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(e), "narration_voice");
    let e = save_channel(
        &core,
        ChannelForm {
            channel_id: "renamed".into(),
            ..form.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        field_of(e),
        "channel_id",
        "an id does not change under its tasks"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);

    // A new channel: its own file, valid for the next start too.
    let new = ChannelForm {
        original_id: None,
        channel_id: "science_daily".into(),
        channel_name: "Science Daily".into(),
        max_concurrent: 1,
        storage_strategy: "none".into(),
        budget_daily_usd: None,
        narration_voice: "en-us".into(),
        is_active: true,
    };
    save_channel(&core, new.clone()).await.unwrap();
    let created = open.path().join("cfg/channels/science_daily.yaml");
    let text = std::fs::read_to_string(&created).unwrap();
    reviewdesk_core::config::ChannelConfig::parse(&text, "science_daily.yaml").unwrap();
    assert!(
        core.channel(&ChannelId::parse("science_daily").unwrap())
            .is_ok()
    );
    let e = save_channel(&core, new).await.unwrap_err();
    assert_eq!(field_of(e), "channel_id", "the id is taken");
    let e = save_channel(
        &core,
        ChannelForm {
            original_id: Some("ghost".into()),
            channel_id: "ghost".into(),
            ..form
        },
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(e), "original_id");
}
