//! The behaviour every adapter's bulk-import queue must show, as one suite each adapter runs
//! against itself (PostgreSQL and SQLite alike). Each check panics with a message naming what broke.

use portcullis_core::bulkimport::api::{decode_pagination_token, page_body};
use portcullis_core::bulkimport::model::Status;
use portcullis_core::bulkimport::storage::{AddOutcome, BulkImportQueueStorage, Claim, Cursor, Failure};
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::storage::Storage;

const APP: AppKey<'static> = AppKey { app_id: "bulk-conf" };
const OTHER_APP: AppKey<'static> = AppKey { app_id: "bulk-conf-other" };

fn id(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn raw(n: u32) -> String {
    format!(r#"{{"id":"{}","loginMethods":[]}}"#, id(n))
}

fn batch(range: std::ops::Range<u32>) -> Vec<(String, String)> {
    range.map(|n| (id(n), raw(n))).collect()
}

pub async fn run_bulk_import_queue(base: &dyn Storage, q: &dyn BulkImportQueueStorage) {
    base.add_tenant_rows(TenantKey::new(APP.app_id, "public"), 1).await.expect("app rows");
    base.add_tenant_rows(TenantKey::new(OTHER_APP.app_id, "public"), 1).await.expect("other app rows");
    add_list_count(q).await;
    pagination_walks_every_row_once(q).await;
    claims(q).await;
    remove(q).await;
    base.delete_app_rows(APP).await.expect("delete app");
    assert_eq!(q.bulk_import_count(APP, None).await.expect("count"), 0, "the queue goes with its app");
    assert!(q.bulk_import_count(OTHER_APP, None).await.expect("count") > 0, "another app's queue stays");
    base.delete_app_rows(OTHER_APP).await.expect("delete other app");
}

async fn add_list_count(q: &dyn BulkImportQueueStorage) {
    assert_eq!(q.bulk_import_add(APP, &batch(1..4), 100).await.expect("add"), AddOutcome::Added);
    assert_eq!(q.bulk_import_add(APP, &batch(4..6), 200).await.expect("add"), AddOutcome::Added);
    assert_eq!(q.bulk_import_add(OTHER_APP, &batch(1..3), 100).await.expect("add"), AddOutcome::Added, "ids are per app");

    // One taken id: nothing of the batch is added.
    assert_eq!(q.bulk_import_add(APP, &batch(6..8).into_iter().chain(batch(2..3)).collect::<Vec<_>>(), 300).await.expect("add"), AddOutcome::IdTaken);
    assert_eq!(q.bulk_import_count(APP, None).await.expect("count"), 5, "a refused batch adds nothing");

    let rows = q.bulk_import_list(APP, None, None, 10).await.expect("list");
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [id(5), id(4), id(3), id(2), id(1)], "newest first, then by id descending");
    let first = &rows[4];
    assert_eq!((first.raw_data.as_str(), first.status, first.created_at, first.updated_at), (raw(1).as_str(), Status::New, 100, 100));
    assert_eq!((first.primary_user_id.as_deref(), first.error_msg.as_deref()), (None, None));

    assert_eq!(q.bulk_import_count(APP, Some(Status::New)).await.expect("count"), 5);
    assert_eq!(q.bulk_import_count(APP, Some(Status::Failed)).await.expect("count"), 0);
    assert!(q.bulk_import_list(APP, Some(Status::Processing), None, 10).await.expect("list").is_empty());
    // The page starts at the cursor's row.
    let from = Cursor { created_at: 100, id: id(2) };
    let ids: Vec<String> = q.bulk_import_list(APP, None, Some(&from), 10).await.expect("list").into_iter().map(|r| r.id).collect();
    assert_eq!(ids, [id(2), id(1)]);
    let ids: Vec<String> = q.bulk_import_list(APP, Some(Status::New), Some(&from), 1).await.expect("list").into_iter().map(|r| r.id).collect();
    assert_eq!(ids, [id(2)]);
    q.bulk_import_remove(APP, &(1..6).map(id).collect::<Vec<_>>()).await.expect("clean up");
}

async fn pagination_walks_every_row_once(q: &dyn BulkImportQueueStorage) {
    // 23 rows over 4 timestamps, walked with the API's limit + 1 rule at several page sizes.
    for (i, at) in [10, 20, 20, 30].into_iter().enumerate() {
        let start = 100 + 6 * i as u32;
        let end = if i == 3 { start + 5 } else { start + 6 };
        assert_eq!(q.bulk_import_add(APP, &batch(start..end), at).await.expect("add"), AddOutcome::Added);
    }
    let all = q.bulk_import_list(APP, None, None, 100).await.expect("list");
    assert_eq!(all.len(), 23);
    for limit in [1, 2, 5, 22, 23, 50] {
        let mut seen = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let rows = q.bulk_import_list(APP, Some(Status::New), cursor.as_ref(), limit + 1).await.expect("page");
            let body = page_body(&rows, limit);
            seen.extend(body["users"].as_array().expect("users").iter().map(|u| u["id"].as_str().unwrap_or_default().to_owned()));
            match body.get("nextPaginationToken").and_then(|t| t.as_str()) {
                Some(t) => cursor = Some(decode_pagination_token(t).expect("our own token")),
                None => break,
            }
        }
        let expected: Vec<String> = all.iter().map(|r| r.id.clone()).collect();
        assert_eq!(seen, expected, "a walk with limit {limit} visits every row once, in order");
    }
    q.bulk_import_remove(APP, &all.iter().map(|r| r.id.clone()).collect::<Vec<_>>()).await.expect("clean up");
}

async fn claims(q: &dyn BulkImportQueueStorage) {
    q.bulk_import_add(APP, &batch(200..203), 50).await.expect("add");
    q.bulk_import_add(APP, &batch(203..205), 40).await.expect("add");

    // Oldest first: (40: 203, 204), then (50: 200, 201, 202).
    let first = q.bulk_import_claim(APP, 3, 1000, 0, None).await.expect("claim");
    let ids: Vec<&str> = first.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [id(203), id(204), id(200)]);
    assert!(first.iter().all(|r| r.claimed_at == 1000), "claimed at now (later than the stored updated_at)");
    assert_eq!(first[0].raw_data, raw(203));
    assert_eq!(q.bulk_import_count(APP, Some(Status::Processing)).await.expect("count"), 3);
    assert_eq!(q.bulk_import_count(APP, Some(Status::New)).await.expect("count"), 2);

    // After a cursor: only newer rows.
    let next = q.bulk_import_claim(APP, 10, 1000, 0, Some(&first[2].cursor())).await.expect("claim");
    let ids: Vec<&str> = next.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [id(201), id(202)]);
    assert!(q.bulk_import_claim(APP, 10, 1000, 0, None).await.expect("claim").is_empty(), "nothing left to claim");

    // A stale claim is taken over (the stalest first, then by id), with a stamp that moves
    // forward even on a slow clock.
    let stale = q.bulk_import_claim(APP, 1, 999, 1001, None).await.expect("claim");
    assert_eq!(stale.len(), 1);
    assert_eq!((stale[0].id.as_str(), stale[0].claimed_at), (id(200).as_str(), 1001));
    let old_claim = first[2].claim();

    // Finishing and failing only touch rows that still carry the claim.
    assert_eq!(q.bulk_import_fail(APP, &[Failure { claim: old_claim.clone(), message: "late".into() }], 1100).await.expect("fail"), 0);
    assert!(q.bulk_import_finish(APP, &[old_claim]).await.expect("finish").is_empty());
    let failure = Failure { claim: first[1].claim(), message: "E003: A user with email a@b.c already exists in emailpassword loginMethod.".into() };
    assert_eq!(q.bulk_import_fail(APP, std::slice::from_ref(&failure), 1100).await.expect("fail"), 1);
    let failed = q.bulk_import_list(APP, Some(Status::Failed), None, 10).await.expect("list");
    assert_eq!(failed.len(), 1);
    assert_eq!((failed[0].id.as_str(), failed[0].error_msg.as_deref(), failed[0].updated_at), (id(204).as_str(), Some(failure.message.as_str()), 1100));

    let done = q.bulk_import_finish(APP, &[stale[0].claim(), first[0].claim(), Claim { id: id(999), claimed_at: 1000 }]).await.expect("finish");
    let mut done_sorted = done.clone();
    done_sorted.sort();
    assert_eq!(done_sorted, [id(200), id(203)]);

    // Giving claims back makes the rows claimable again.
    let claims: Vec<Claim> = next.iter().map(|r| r.claim()).collect();
    assert_eq!(q.bulk_import_release(APP, &claims, 1200).await.expect("release"), 2);
    assert_eq!(q.bulk_import_count(APP, Some(Status::New)).await.expect("count"), 2);
    let again = q.bulk_import_claim(APP, 10, 1200, 0, None).await.expect("claim");
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|r| r.claimed_at == 1201), "each claim moves the stamp forward");
    assert_eq!(q.bulk_import_release(APP, &claims, 1300).await.expect("release"), 0, "an old claim releases nothing");
    let late = q.bulk_import_claim(APP, 10, 10_000, 10_000, None).await.expect("claim");
    assert_eq!(late.len(), 2, "stale claims are taken over");
    assert!(late.iter().all(|r| r.id != id(204)), "failed rows are never claimed");
    q.bulk_import_remove(APP, &[id(201), id(202), id(204)]).await.expect("clean up");
    assert_eq!(q.bulk_import_count(APP, None).await.expect("count"), 0);
}

async fn remove(q: &dyn BulkImportQueueStorage) {
    q.bulk_import_add(APP, &batch(300..304), 10).await.expect("add");
    let claimed = q.bulk_import_claim(APP, 1, 20, 0, None).await.expect("claim");
    assert_eq!(claimed[0].id, id(300));
    // Any status can be removed; unknown ids are simply not deleted.
    let requested = vec![id(300), id(301), "not-an-id".to_owned(), id(301)];
    let mut deleted = q.bulk_import_remove(APP, &requested).await.expect("remove");
    deleted.sort();
    assert_eq!(deleted, [id(300), id(301)]);
    assert!(q.bulk_import_finish(APP, &[claimed[0].claim()]).await.expect("finish").is_empty(), "a removed row is not finished");
    assert!(q.bulk_import_remove(APP, &[id(1)]).await.expect("remove").is_empty());
    assert_eq!(q.bulk_import_count(APP, None).await.expect("count"), 2);
}
