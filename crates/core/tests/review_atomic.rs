//! A decision is one transaction: the status change, the audit row, the flags, the asset states
//! and reopening the step commit together or not at all. A failure is injected with a SQLite
//! trigger on the last write a rejection makes (forgetting the step's completion).

use reviewdesk_core::asset::{AssetCounts, AssetPlan};
use reviewdesk_core::store::Transition;
use reviewdesk_core::{
    AssetName, Core, NewTask, ReviewInput, ReviewService, Source, Status, TaskId, TaskService,
};
use reviewdesk_testkit::TestCore;
use std::sync::Arc;

async fn core(dir: &tempfile::TempDir) -> Arc<Core> {
    TestCore::new().open_in(dir.path()).await
}

/// `n` tasks at Assets Ready whose asset step is complete, with the 22 planned assets.
async fn tasks_at_the_asset_gate(core: &Arc<Core>, n: usize) -> Vec<TaskId> {
    let tasks = TaskService::new(core.clone());
    let plan = AssetPlan::derive("owls", "", AssetCounts::default()).unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let t = tasks
            .create(
                NewTask {
                    title: format!("Owls {i}"),
                    ..Default::default()
                },
                Source::Cli,
            )
            .await
            .unwrap();
        let s = &core.store;
        s.ensure_assets(t.id, &plan.assets).await.unwrap();
        for (from, to) in [
            (Status::Queued, Status::Claimed),
            (Status::Claimed, Status::GeneratingAssets),
            (Status::GeneratingAssets, Status::AssetsReady),
        ] {
            s.transition(t.id, &Transition::new(from, to, Source::Worker))
                .await
                .unwrap();
        }
        sqlx::query(
            "INSERT INTO step_completions (task_id, step, completed_at) VALUES ($1, 'assets', 1)",
        )
        .bind(t.id.to_string())
        .execute(s.pool())
        .await
        .unwrap();
        ids.push(t.id);
    }
    ids
}

async fn completions(core: &Core) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) AS n FROM step_completions")
        .fetch_one(core.store.pool())
        .await
        .unwrap()
        .get::<i64, _>("n")
}

/// Makes forgetting `id`'s step completion fail, as a full disk or a lost connection would.
async fn fail_reopening(core: &Core, id: TaskId) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TRIGGER fail_reopen BEFORE DELETE ON step_completions WHEN OLD.task_id = '{id}' \
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    )))
    .execute(core.store.pool())
    .await
    .unwrap();
}

fn feedback() -> ReviewInput {
    ReviewInput::local(Source::Cli, Some("the owl is too dark".into()))
}

#[tokio::test]
async fn a_rejection_that_fails_halfway_changes_nothing_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(&dir).await;
    let ids = tasks_at_the_asset_gate(&core, 1).await;
    let id = ids[0];
    let events_before = core
        .store
        .events_after(0, None, 10_000)
        .await
        .unwrap()
        .len();
    fail_reopening(&core, id).await;

    let flags = vec![AssetName::parse("protagonist").unwrap()];
    let reviews = ReviewService::new(core.clone());
    assert!(
        reviews
            .reject(id, Some(flags.clone()), feedback())
            .await
            .is_err()
    );

    let task = core.store.task(id).await.unwrap();
    assert_eq!(task.status, Status::AssetsReady, "the status is unchanged");
    assert!(task.error_log.is_empty(), "no feedback line was appended");
    assert!(
        core.store.audit(id).await.unwrap().is_empty(),
        "no audit row"
    );
    let assets = core.store.assets(id).await.unwrap();
    assert!(assets.iter().all(|a| !a.flagged), "no flag was set");
    assert_eq!(completions(&core).await, 1, "the step is still complete");
    assert_eq!(
        core.store
            .events_after(0, None, 10_000)
            .await
            .unwrap()
            .len(),
        events_before,
        "no event was logged"
    );

    // Without the fault the same rejection applies whole: flag, state, reopened step.
    sqlx::query("DROP TRIGGER fail_reopen")
        .execute(core.store.pool())
        .await
        .unwrap();
    let after = reviews.reject(id, Some(flags), feedback()).await.unwrap();
    assert_eq!(after.status, Status::AssetError);
    let hero = core
        .store
        .asset(id, &AssetName::parse("protagonist").unwrap())
        .await
        .unwrap();
    assert!(hero.flagged);
    assert_eq!(hero.review_state.as_str(), "rejected");
    assert_eq!(completions(&core).await, 0, "the step runs again on retry");
}

#[tokio::test]
async fn a_bulk_rejection_of_100_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(&dir).await;
    let ids = tasks_at_the_asset_gate(&core, 100).await;
    // The very last write of the batch fails.
    fail_reopening(&core, ids[99]).await;
    let reviews = ReviewService::new(core.clone());
    assert!(reviews.bulk_reject(&ids, None, feedback()).await.is_err());
    for id in &ids {
        assert_eq!(
            core.store.task(*id).await.unwrap().status,
            Status::AssetsReady
        );
        assert!(core.store.audit(*id).await.unwrap().is_empty());
    }
    assert_eq!(completions(&core).await, 100);

    sqlx::query("DROP TRIGGER fail_reopen")
        .execute(core.store.pool())
        .await
        .unwrap();
    let done = reviews.bulk_reject(&ids, None, feedback()).await.unwrap();
    assert_eq!(done.len(), 100);
    assert!(done.iter().all(|t| t.status == Status::AssetError));
    assert_eq!(completions(&core).await, 0);
}
