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

// ---------------------------------------------------------------------------------------------
// The import flow's statements (`BulkImportTx`), through `import_chunk` in one transaction.

mod flow {
    use std::collections::HashMap;

    use portcullis_core::bulkimport::conflicts::ChunkProbe;
    use portcullis_core::bulkimport::flow::{import_chunk, ChunkInput, ChunkOutcome, ChunkReport, ChunkUser};
    use portcullis_core::bulkimport::plan::{ChunkRows, ExistingData, ImportPlan};
    use portcullis_core::bulkimport::storage::{BulkImportQueueStorage, Claim};
    use portcullis_core::bulkimport::{AppFacts, Ids, ImportError, Status, Validator};
    use portcullis_core::ids::{AppKey, TenantKey};
    use portcullis_core::storage::tx::{Tx, TxFuture};
    use portcullis_core::storage::{transaction, Storage};
    use portcullis_core::useridmapping::storage::IdType;
    use portcullis_core::users::RecipeId;
    use serde_json::{json, Value};

    const APP: AppKey<'static> = AppKey { app_id: "bulk-flow" };
    const BCRYPT: &str = "$2a$10$X2oX3mWh8JfgPTKtkKmc9OQwUVQAulwkGgIjcsK8h3rojHVQTebV6";
    const NOW: i64 = 1_700_000_000_000;

    /// Plans users validated from JSON; the n-th user (of `first`…) gets method ids `…-<n>-<k>`.
    fn plans(users: &[Value], tag: &str) -> Vec<ImportPlan> {
        let facts = AppFacts {
            roles: ["admin"].map(String::from).into(),
            tenant_pools: [("public", "db"), ("t1", "db")].map(|(t, p)| (t.to_owned(), p.to_owned())).into(),
            firebase_signer_key_set: true,
        };
        let mut v = Validator::new(&facts, NOW);
        users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let mut k = 0;
                let mut next = || {
                    k += 1;
                    format!("00000000-0000-4000-{tag:0>4}-{:06}{k:06}", i)
                };
                let user = v.validate(u.as_object().expect("object"), Ids::Generate(&mut next)).expect("valid test user");
                let hashes: HashMap<String, String> = portcullis_core::bulkimport::plan::passwords_to_hash(&user)
                    .into_iter()
                    .map(|(id, _)| (id.to_owned(), BCRYPT.to_owned()))
                    .collect();
                ImportPlan::new(&user, &hashes, NOW).expect("plan")
            })
            .collect()
    }

    fn import_in<'t>(tx: &'t mut dyn Tx, input: &'t ChunkInput) -> TxFuture<'t, ChunkOutcome> {
        Box::pin(import_chunk(tx, input))
    }

    async fn import(s: &dyn Storage, input: ChunkInput) -> ChunkOutcome {
        transaction(s, input, import_in).await.expect("import unit")
    }

    fn done(outcome: ChunkOutcome) -> ChunkReport {
        match outcome {
            ChunkOutcome::Done(r) => r,
            ChunkOutcome::Conflict => panic!("unexpected conflict"),
        }
    }

    fn rich_user() -> Value {
        json!({
            "externalUserId": "ext-rich",
            "userMetadata": {"plan": "pro"},
            "userRoles": [{"role": "admin", "tenantIds": ["public", "t1"]}],
            "totpDevices": [{"secretKey": "JBSWY3DPEHPK3PXP", "deviceName": "phone"}, {"secretKey": "KRSXG5CTMVRXEZLU"}],
            "loginMethods": [
                {"recipeId": "emailpassword", "email": "rich@example.com", "passwordHash": BCRYPT, "hashingAlgorithm": "bcrypt",
                 "isPrimary": true, "isVerified": true, "tenantIds": ["public", "t1"], "timeJoinedInMSSinceEpoch": 300},
                {"recipeId": "thirdparty", "email": "rich@example.com", "thirdPartyId": "google", "thirdPartyUserId": "g-rich",
                 "isVerified": true, "timeJoinedInMSSinceEpoch": 100},
                {"recipeId": "passwordless", "phoneNumber": "+14155550100", "timeJoinedInMSSinceEpoch": 200}
            ]
        })
    }

    pub async fn run(s: &dyn Storage, q: &dyn BulkImportQueueStorage) {
        s.add_tenant_rows(TenantKey::new(APP.app_id, "public"), 1).await.expect("app rows");
        s.add_tenant_rows(TenantKey::new(APP.app_id, "t1"), 1).await.expect("tenant rows");
        portcullis_core::roles::create_or_add_permissions(s, APP, "admin".into(), vec![]).await.expect("role");

        let p = plans(
            &[
                rich_user(),
                json!({"loginMethods": [{"recipeId": "passwordless", "email": "pl@example.com", "tenantIds": ["public", "t1"], "isVerified": true}]}),
                json!({"loginMethods": [{"recipeId": "emailpassword", "email": "rich@example.com", "plainTextPassword": "x"}]}),
            ],
            "0001",
        );
        // Queue and claim them, as the worker does.
        let queued: Vec<(String, String)> = p.iter().map(|plan| (plan.user_id.clone(), "{}".to_owned())).collect();
        q.bulk_import_add(APP, &queued, 10).await.expect("queue");
        let claimed = q.bulk_import_claim(APP, 10, 20, 0, None).await.expect("claim");
        let claims: HashMap<String, Claim> = claimed.iter().map(|r| (r.id.clone(), r.claim())).collect();
        let users = p.iter().map(|plan| ChunkUser { claim: claims.get(&plan.user_id).cloned(), plan: plan.clone() }).collect();
        let report = done(import(s, ChunkInput { app_id: APP.app_id.into(), users, failures: vec![], queue_here: true, now: 30 }).await);
        assert_eq!(report.imported, [p[0].user_id.clone(), p[1].user_id.clone()]);
        assert_eq!(report.failed, [(p[2].user_id.clone(), ImportError::EmailPasswordEmailTaken { email: "rich@example.com".into() })]);

        // The queue: imported rows gone, the failed one FAILED with its reason, in the same unit.
        let rows = q.bulk_import_list(APP, None, None, 10).await.expect("list");
        assert_eq!(rows.len(), 1, "imported users leave the queue");
        assert_eq!((rows[0].id.as_str(), rows[0].status), (p[2].user_id.as_str(), Status::Failed));
        assert_eq!(rows[0].error_msg.as_deref(), Some("E003: A user with email rich@example.com already exists in emailpassword loginMethod."));

        // What the rich user became.
        let rich = &p[0];
        let user = s.get_user(APP, &rich.user_id).await.expect("get").expect("imported");
        assert!(user.is_primary);
        assert_eq!(user.id, rich.user_id);
        assert_eq!(user.login_methods.len(), 3);
        assert_eq!(user.tenant_ids(), ["public", "t1"]);
        for m in &user.login_methods {
            assert_eq!(m.primary_user_id, rich.user_id);
            assert!(m.is_linked_or_primary);
            assert_eq!(m.external_user_id.as_deref(), if m.recipe_user_id == rich.user_id { Some("ext-rich") } else { None });
        }
        let ep = user.login_methods.iter().find(|m| m.recipe_id == RecipeId::EmailPassword).expect("ep");
        assert_eq!((ep.password_hash.as_deref(), ep.time_joined, ep.verified), (Some(BCRYPT), 300, true));
        let tp = user.login_methods.iter().find(|m| m.recipe_id == RecipeId::ThirdParty).expect("tp");
        assert!(tp.verified);
        assert_eq!(tp.tenant_ids, ["public"]);
        let pl = user.login_methods.iter().find(|m| m.recipe_id == RecipeId::Passwordless).expect("pl");
        assert_eq!(pl.phone_number.as_deref(), Some("+14155550100"));
        let page = s.list_users(APP, &Default::default(), true, 10, None).await.expect("list users");
        let listed: Vec<&(String, i64)> = page.iter().filter(|(id, _)| *id == rich.user_id).collect();
        assert_eq!(listed, [&(rich.user_id.clone(), 100)], "listed once, at the group's earliest time");
        let mapping = s.get_user_id_mapping(APP, "ext-rich", IdType::External).await.expect("mapping").expect("mapped");
        assert_eq!(mapping.supertokens_user_id, rich.user_id);
        assert_eq!(s.metadata_get(APP, "ext-rich").await.expect("metadata"), json!({"plan": "pro"}).as_object().cloned());
        for t in ["public", "t1"] {
            assert_eq!(s.user_roles(TenantKey::new(APP.app_id, t), "ext-rich").await.expect("roles"), ["admin"]);
        }
        let devices = s.totp_devices(APP, "ext-rich").await.expect("devices");
        let mut names: Vec<(&str, bool)> = devices.iter().map(|d| (d.name.as_str(), d.verified)).collect();
        names.sort();
        assert_eq!(names, [("TOTP Device 1", true), ("phone", true)]);
        assert!(s.ev_is_verified(APP, "ext-rich", "rich@example.com").await.expect("ev"), "the main method's email, under the external id");
        let pl_user = s.get_user(APP, &p[1].user_id).await.expect("get").expect("imported");
        assert!(!pl_user.is_primary);
        assert_eq!(pl_user.tenant_ids(), ["public", "t1"]);
        assert!(s.ev_is_verified(APP, &p[1].user_id, "pl@example.com").await.expect("ev"));

        // The facts every later chunk reads.
        let probe = ChunkProbe::of(&p);
        let facts = transaction(s, probe, |tx, probe| Box::pin(async move { tx.bi_facts(APP, probe).await })).await.expect("facts");
        assert!(facts.ep_emails_taken.contains(&("t1".to_owned(), "rich@example.com".to_owned())));
        assert!(facts.tp_identities_taken.contains(&("public".to_owned(), "google".to_owned(), "g-rich".to_owned())));
        assert!(facts.pl_phones_taken.contains(&("public".to_owned(), "+14155550100".to_owned())));
        assert!(facts.pl_emails_taken.contains(&("t1".to_owned(), "pl@example.com".to_owned())));
        assert_eq!(facts.primary_candidates.len(), 1, "the rich user, as one group");
        assert_eq!(facts.primary_candidates[0].login_methods.len(), 3);
        assert!(facts.mapped_external_ids.contains("ext-rich"));
        assert!(facts.existing_user_ids.contains(&rich.user_id) && facts.existing_user_ids.contains(&p[1].user_id));
        assert!(!facts.existing_user_ids.contains(&p[2].user_id));
        assert!(facts.roles.contains("admin"));
        assert_eq!(facts.existing.metadata.get("ext-rich"), json!({"plan": "pro"}).as_object());
        assert_eq!(facts.existing.totp_devices.get("ext-rich").map(Vec::len), Some(2));

        // Run again (POST /bulk-import/import of the same users, or a re-claimed entry): the
        // imported ones are found there, the third still fails.
        let users = p.iter().map(|plan| ChunkUser { claim: None, plan: plan.clone() }).collect();
        let again = done(import(s, ChunkInput { app_id: APP.app_id.into(), users, failures: vec![], queue_here: true, now: 40 }).await);
        assert_eq!((again.imported.len(), again.already_imported.len(), again.failed.len()), (0, 2, 1));

        // A unique constraint in the multi-row insert ends the unit: nothing of it is kept.
        let fresh = plans(&[json!({"loginMethods": [{"recipeId": "passwordless", "email": "new@example.com"}]})], "0002");
        let rows = ChunkRows::build([&fresh[0], &p[1]], &ExistingData::default());
        let ok = transaction(s, rows, |tx, rows| Box::pin(async move { tx.bi_insert(APP, rows).await })).await.expect("insert");
        assert!(!ok, "a taken key answers false");
        assert!(s.get_user(APP, &fresh[0].user_id).await.expect("get").is_none(), "the unit's other rows are gone");
        // Without the clash, the same statement writes it.
        let rows = ChunkRows::build([&fresh[0]], &ExistingData::default());
        assert!(transaction(s, rows, |tx, rows| Box::pin(async move { tx.bi_insert(APP, rows).await })).await.expect("insert"));
        assert!(s.get_user(APP, &fresh[0].user_id).await.expect("get").is_some());

        // Many users in one statement per table: more rows than any single multi-row VALUES takes.
        let many: Vec<Value> = (0..1200).map(|i| json!({"loginMethods": [{"recipeId": "emailpassword", "email": format!("m{i}@example.com"), "passwordHash": BCRYPT, "hashingAlgorithm": "bcrypt", "tenantIds": ["public", "t1"]}]})).collect();
        let p = plans(&many, "0003");
        let users = p.iter().map(|plan| ChunkUser { claim: None, plan: plan.clone() }).collect();
        let r = done(import(s, ChunkInput { app_id: APP.app_id.into(), users, failures: vec![], queue_here: true, now: 50 }).await);
        assert_eq!(r.imported.len(), 1200);
        assert!(s.get_user(APP, &p[1199].user_id).await.expect("get").is_some());

        s.delete_app_rows(APP).await.expect("delete app");
    }
}

pub use flow::run as run_bulk_import_flow;
