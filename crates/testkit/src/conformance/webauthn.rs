//! WebAuthn storage (`portcullis_core::webauthn::storage::{WebauthnStorage, WebauthnTx}`): what each
//! adapter must do. Above all the guarded writes that make options and recovery tokens single-use
//! and keep signature counters moving forward, the uniqueness rules (emails per tenant, credential
//! ids per app) reported as outcomes with nothing written, the tenant scope of every lookup, and
//! the rows that go with a user, a tenant and an app.

use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::storage::tx::{Tx, TxFuture};
use portcullis_core::storage::{transaction, Storage};
use portcullis_core::users::model::RecipeId;
use portcullis_core::webauthn::options::consumed_expires_at;
use portcullis_core::webauthn::storage::{
    AddRecoveryTokenOutcome, CounterUpdate, FinishSignInOutcome, GeneratedOptions, NewWebauthnUser, OptionsRef, RecoveryTokenRow,
    RegisterCredentialOutcome, SaveOptionsOutcome, SignInConsumption, SignUpOutcome, StoredCredential,
};

const APP: &str = "wa-app";
const OTHER_APP: &str = "wa-other";
const RP: &str = "example.com";
const NOW: i64 = 1_700_000_000_000;
const TIMEOUT: i64 = 60_000;

fn options(tenant: &str, id: &str, email: Option<&str>, created_at: i64) -> GeneratedOptions {
    GeneratedOptions {
        tenant_id: tenant.into(),
        id: id.into(),
        challenge: format!("challenge-of-{id}"),
        email: email.map(Into::into),
        rp_id: RP.into(),
        rp_name: "Example".into(),
        origin: "https://example.com".into(),
        expires_at: created_at + TIMEOUT,
        created_at,
        user_presence_required: true,
        user_verification: "preferred".into(),
    }
}

fn credential(id: &str, user: &str, created_at: i64) -> StoredCredential {
    StoredCredential {
        id: id.into(),
        rp_id: RP.into(),
        user_id: user.into(),
        counter: 0,
        public_key: vec![1, 2, 3, id.len() as u8],
        transports: r#"["internal","hybrid"]"#.into(),
        created_at,
        updated_at: created_at,
    }
}

fn user(id: &str, email: &str) -> NewWebauthnUser {
    NewWebauthnUser { user_id: id.into(), email: email.into(), rp_id: RP.into(), time_joined: NOW }
}

fn token(tenant: &str, user: &str, email: &str, hash: &str, expires_at: i64) -> RecoveryTokenRow {
    RecoveryTokenRow { tenant_id: tenant.into(), user_id: user.into(), email: email.into(), token_hash: hash.into(), expires_at }
}

fn by_id<'a>(tenant: &'a str, id: &'a str) -> OptionsRef<'a> {
    OptionsRef { tenant_id: tenant, id }
}

/// The email change as the flow runs it: lock the user, then set the email (false on a conflict).
fn set_email<'t>(tx: &'t mut dyn Tx, (user, email): &'t (String, String)) -> TxFuture<'t, Option<bool>> {
    Box::pin(async move {
        let app = AppKey::new(APP);
        if !tx.wa_lock_user(app, user).await? {
            return Ok(None);
        }
        Ok(Some(tx.wa_set_email(app, user, email).await?))
    })
}

async fn change_email(s: &dyn Storage, user: &str, email: &str) -> Option<bool> {
    transaction(s, (user.to_owned(), email.to_owned()), set_email).await.expect("email change")
}

pub async fn run_webauthn(s: &dyn Storage) {
    let app = AppKey::new(APP);
    let (public, t1) = (TenantKey::new(APP, "public"), TenantKey::new(APP, "t1"));
    for tenant in [public, t1, TenantKey::new(OTHER_APP, "public")] {
        s.add_tenant_rows(tenant, 1).await.expect("tenant rows");
    }

    // Options: saved by tenant, read in their tenant (or anywhere in the app), removed once.
    let register = options("public", "o-register", Some("a@example.com"), NOW);
    assert_eq!(s.wa_save_options(app, &register).await.expect("save"), SaveOptionsOutcome::Saved);
    assert_eq!(s.wa_save_options(app, &register).await.expect("save"), SaveOptionsOutcome::DuplicateId);
    let nowhere = options("no-such-tenant", "o-x", None, NOW);
    assert_eq!(s.wa_save_options(app, &nowhere).await.expect("save"), SaveOptionsOutcome::UnknownTenant);
    let sign_in = options("t1", "o-signin", None, NOW);
    assert_eq!(s.wa_save_options(app, &sign_in).await.expect("save"), SaveOptionsOutcome::Saved);
    assert_eq!(s.wa_options(public, "o-register").await.expect("get"), Some(register.clone()));
    assert_eq!(s.wa_options(t1, "o-signin").await.expect("get"), Some(sign_in.clone()), "a null email");
    assert_eq!(s.wa_options(t1, "o-register").await.expect("get"), None, "tenant scope");
    assert_eq!(s.wa_options(TenantKey::new(OTHER_APP, "public"), "o-register").await.expect("get"), None, "app scope");
    assert_eq!(s.wa_options_in_app(app, "o-signin").await.expect("get"), Some(sign_in.clone()), "any tenant of the app");
    assert_eq!(s.wa_options_in_app(AppKey::new(OTHER_APP), "o-signin").await.expect("get"), None);
    assert!(!s.wa_remove_options(public, "o-signin").await.expect("remove"), "tenant scope");
    assert!(s.wa_remove_options(t1, "o-signin").await.expect("remove"));
    assert!(!s.wa_remove_options(t1, "o-signin").await.expect("remove"));
    assert_eq!(s.wa_options(t1, "o-signin").await.expect("get"), None);

    // Sign-up: the user's rows and its first credential, consuming the options.
    let c1 = credential("cred-1", "u1", NOW);
    assert_eq!(s.wa_sign_up(public, by_id("public", "o-register"), &user("u1", "a@example.com"), &c1).await.expect("sign up"), SignUpOutcome::Created);
    assert_eq!(s.wa_options(public, "o-register").await.expect("get"), None, "the options are used");
    let again = s.wa_sign_up(public, by_id("public", "o-register"), &user("u9", "z@example.com"), &credential("cred-9", "u9", NOW)).await;
    assert_eq!(again.expect("sign up"), SignUpOutcome::OptionsGone);

    // Each refusal writes nothing: the options stay, the user does not exist.
    s.wa_save_options(app, &options("public", "o-2", Some("a@example.com"), NOW)).await.expect("save");
    let refusals = [
        (user("u2", "a@example.com"), credential("cred-2", "u2", NOW), SignUpOutcome::EmailAlreadyExists),
        (user("u2", "b@example.com"), credential("cred-1", "u2", NOW), SignUpOutcome::CredentialAlreadyExists),
        (user("u2", "b@example.com"), StoredCredential { rp_id: "other.example".into(), ..credential("cred-1", "u2", NOW) }, SignUpOutcome::CredentialAlreadyExists),
        (user("u1", "b@example.com"), credential("cred-2", "u1", NOW), SignUpOutcome::DuplicateUserId),
    ];
    for (new_user, new_credential, outcome) in refusals {
        assert_eq!(s.wa_sign_up(public, by_id("public", "o-2"), &new_user, &new_credential).await.expect("sign up"), outcome);
        assert!(s.wa_options(public, "o-2").await.expect("get").is_some(), "{outcome:?}: options kept");
        assert_eq!(s.get_user(app, "u2").await.expect("user"), None, "{outcome:?}: no user");
    }
    assert_eq!(s.wa_credential_of_user(app, "u2", "cred-2").await.expect("get"), None);
    // Emails are unique per tenant: the same email signs up in t1.
    s.wa_save_options(app, &options("t1", "o-3", Some("a@example.com"), NOW)).await.expect("save");
    assert_eq!(s.wa_sign_up(t1, by_id("t1", "o-3"), &user("u2", "a@example.com"), &credential("cred-2", "u2", NOW)).await.expect("sign up"), SignUpOutcome::Created);
    s.wa_save_options(app, &options("public", "o-4", Some("c@example.com"), NOW)).await.expect("save");
    assert_eq!(s.wa_sign_up(public, by_id("public", "o-4"), &user("u3", "c@example.com"), &credential("cred-3", "u3", NOW)).await.expect("sign up"), SignUpOutcome::Created);

    // The user rows, as the users API reads them.
    let u1 = s.get_user(app, "u1").await.expect("user").expect("u1 exists");
    assert_eq!((u1.id.as_str(), u1.is_primary, u1.login_methods.len()), ("u1", false, 1));
    let method = &u1.login_methods[0];
    assert_eq!(method.recipe_id, RecipeId::WebAuthn);
    assert_eq!((method.email.as_deref(), method.time_joined, method.tenant_ids.clone()), (Some("a@example.com"), NOW, vec!["public".to_owned()]));
    assert_eq!(method.webauthn_credential_ids, ["cred-1"]);
    assert_eq!(s.get_user(app, "u2").await.expect("user").expect("u2").tenant_ids(), ["t1"]);
    assert_eq!(s.get_user(AppKey::new(OTHER_APP), "u1").await.expect("user"), None, "app scope");

    // Credentials: registered once per app, listed by (created_at, id), a user's own only.
    s.wa_save_options(app, &options("public", "o-5", Some("a@example.com"), NOW)).await.expect("save");
    let c0 = credential("cred-0", "u1", NOW + 5);
    assert_eq!(s.wa_register_credential(app, by_id("public", "o-5"), &c0).await.expect("register"), RegisterCredentialOutcome::Registered);
    assert_eq!(s.wa_register_credential(app, by_id("public", "o-5"), &credential("cred-5", "u1", NOW)).await.expect("register"), RegisterCredentialOutcome::OptionsGone);
    s.wa_save_options(app, &options("t1", "o-6", Some("a@example.com"), NOW)).await.expect("save");
    let o6 = by_id("t1", "o-6");
    assert_eq!(s.wa_register_credential(app, o6, &credential("cred-6", "nobody", NOW)).await.expect("register"), RegisterCredentialOutcome::UnknownUser);
    assert_eq!(s.wa_register_credential(app, o6, &credential("cred-2", "u1", NOW)).await.expect("register"), RegisterCredentialOutcome::CredentialAlreadyExists);
    assert!(s.wa_options(t1, "o-6").await.expect("get").is_some(), "options kept after a refusal");
    assert_eq!(s.wa_credential_of_user(app, "u1", "cred-0").await.expect("get"), Some(c0.clone()));
    assert_eq!(s.wa_credential_of_user(app, "u2", "cred-0").await.expect("get"), None, "another user's");
    assert_eq!(s.wa_credential_of_user(AppKey::new(OTHER_APP), "u1", "cred-0").await.expect("get"), None, "app scope");
    let ids = |list: Vec<StoredCredential>| list.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(s.wa_credentials_of_user(app, "u1").await.expect("list")), ["cred-1", "cred-0"]);
    assert!(s.wa_credentials_of_user(app, "nobody").await.expect("list").is_empty());
    let method = &s.get_user(app, "u1").await.expect("user").expect("u1").login_methods[0];
    assert_eq!(method.webauthn_credential_ids, ["cred-1", "cred-0"]);

    // Sign-in: the credential by (app, rp id, id) with its user's tenants; counters move only from
    // the value read; the options are consumed once, marked (CDI <= 5.4) or deleted.
    let found = s.wa_credential_for_sign_in(app, RP, "cred-1").await.expect("get").expect("found");
    assert_eq!((found.credential, found.user_tenant_ids), (c1.clone(), vec!["public".to_owned()]));
    assert_eq!(s.wa_credential_for_sign_in(app, "other.example", "cred-1").await.expect("get"), None, "rp id scope");
    assert_eq!(s.wa_credential_for_sign_in(AppKey::new(OTHER_APP), RP, "cred-1").await.expect("get"), None, "app scope");
    let move_counter = |old: i64, new: i64, at: i64| CounterUpdate { rp_id: RP, credential_id: "cred-1", old_counter: old, new_counter: new, now: at };
    s.wa_save_options(app, &options("public", "o-7", None, NOW)).await.expect("save");
    let o7 = by_id("public", "o-7");
    let mark = SignInConsumption::MarkConsumed;
    assert_eq!(s.wa_finish_sign_in(app, o7, mark, &move_counter(3, 5, NOW + 1)).await.expect("finish"), FinishSignInOutcome::CounterMoved);
    assert_eq!(s.wa_options(public, "o-7").await.expect("get").expect("kept").expires_at, NOW + TIMEOUT, "nothing written");
    assert_eq!(s.wa_finish_sign_in(app, o7, mark, &move_counter(0, 5, NOW + 1)).await.expect("finish"), FinishSignInOutcome::Done);
    let used = s.wa_options(public, "o-7").await.expect("get").expect("kept for the SDK to read");
    assert_eq!(used.expires_at, consumed_expires_at(NOW));
    assert_eq!(s.wa_finish_sign_in(app, o7, mark, &move_counter(5, 6, NOW + 2)).await.expect("finish"), FinishSignInOutcome::OptionsGone);
    s.wa_save_options(app, &options("public", "o-8", None, NOW)).await.expect("save");
    let o8 = by_id("public", "o-8");
    assert_eq!(s.wa_finish_sign_in(app, o8, SignInConsumption::Delete, &move_counter(5, 9, NOW + 3)).await.expect("finish"), FinishSignInOutcome::Done);
    assert_eq!(s.wa_options(public, "o-8").await.expect("get"), None, "deleted");
    assert_eq!(s.wa_finish_sign_in(app, o8, SignInConsumption::Delete, &move_counter(9, 10, NOW + 4)).await.expect("finish"), FinishSignInOutcome::OptionsGone);
    let moved = s.wa_credential_of_user(app, "u1", "cred-1").await.expect("get").expect("found");
    assert_eq!((moved.counter, moved.updated_at, moved.created_at), (9, NOW + 3, NOW));

    // Removal: a user's own credential, once.
    assert!(!s.wa_remove_credential(app, "u2", "cred-0").await.expect("remove"), "another user's");
    assert!(s.wa_remove_credential(app, "u1", "cred-0").await.expect("remove"));
    assert!(!s.wa_remove_credential(app, "u1", "cred-0").await.expect("remove"));
    assert_eq!(ids(s.wa_credentials_of_user(app, "u1").await.expect("list")), ["cred-1"]);

    // The email change: unique among the webauthn users of each of the user's tenants.
    assert_eq!(change_email(s, "nobody", "x@example.com").await, None, "no such webauthn user");
    assert_eq!(change_email(s, "u3", "a@example.com").await, Some(false), "u1 has it in public");
    assert_eq!(change_email(s, "u3", "d@example.com").await, Some(true));
    let method = &s.get_user(app, "u3").await.expect("user").expect("u3").login_methods[0];
    assert_eq!(method.email.as_deref(), Some("d@example.com"));
    assert_eq!(change_email(s, "u2", "c@example.com").await, Some(true), "the old email is free, and u2 is in t1 only");

    // Recovery tokens: by tenant and hash; consumed once while valid, taking the email's others.
    let expiry = NOW + 3_600_000;
    assert_eq!(s.wa_add_recovery_token(app, &token("public", "u1", "a@example.com", "h1", expiry)).await.expect("add"), AddRecoveryTokenOutcome::Added);
    assert_eq!(s.wa_add_recovery_token(app, &token("public", "u1", "a@example.com", "h1", expiry)).await.expect("add"), AddRecoveryTokenOutcome::Duplicate);
    assert_eq!(s.wa_add_recovery_token(app, &token("public", "nobody", "a@example.com", "h0", expiry)).await.expect("add"), AddRecoveryTokenOutcome::UnknownUser);
    assert_eq!(s.wa_add_recovery_token(app, &token("public", "u1", "a@example.com", "h2", expiry)).await.expect("add"), AddRecoveryTokenOutcome::Added);
    assert_eq!(s.wa_add_recovery_token(app, &token("t1", "u2", "c@example.com", "h3", NOW)).await.expect("add"), AddRecoveryTokenOutcome::Added);
    assert_eq!(s.wa_recovery_token(public, "h1").await.expect("get"), Some(token("public", "u1", "a@example.com", "h1", expiry)));
    assert_eq!(s.wa_recovery_token(t1, "h1").await.expect("get"), None, "tenant scope");
    assert_eq!(s.wa_recovery_token(public, "h0").await.expect("get"), None, "nothing written");
    assert_eq!(s.wa_consume_recovery_token(t1, "h1", NOW).await.expect("consume"), None, "tenant scope");
    assert_eq!(s.wa_consume_recovery_token(public, "h1", expiry + 1).await.expect("consume"), None, "expired");
    assert_eq!(s.wa_consume_recovery_token(public, "h1", expiry).await.expect("consume"), Some(token("public", "u1", "a@example.com", "h1", expiry)));
    assert_eq!(s.wa_consume_recovery_token(public, "h1", NOW).await.expect("consume"), None, "used once");
    assert_eq!(s.wa_recovery_token(public, "h2").await.expect("get"), None, "the email's other tokens went with it");
    assert!(s.wa_recovery_token(t1, "h3").await.expect("get").is_some(), "another tenant's stay");

    // The cron: options and tokens that expired before now, used sign-in options included.
    s.wa_save_options(app, &options("t1", "o-late", None, NOW + 10 * TIMEOUT)).await.expect("save");
    assert_eq!(s.wa_delete_expired(NOW).await.expect("cleanup"), 1, "o-7, used");
    assert_eq!(s.wa_delete_expired(NOW + TIMEOUT).await.expect("cleanup"), 1, "h3 (expired at NOW)");
    assert_eq!(s.wa_delete_expired(NOW + TIMEOUT + 1).await.expect("cleanup"), 2, "o-2 and o-6");
    assert_eq!(s.wa_delete_expired(NOW + TIMEOUT + 1).await.expect("cleanup"), 0);
    assert!(s.wa_options(t1, "o-late").await.expect("get").is_some());

    // Tenants: a user taken out of a tenant no longer signs in there; its email is free there.
    assert!(s.disassociate_user_from_tenant(public, "u3").await.expect("disassociate"));
    let found = s.wa_credential_for_sign_in(app, RP, "cred-3").await.expect("get").expect("the credential stays");
    assert!(found.user_tenant_ids.is_empty());
    s.wa_save_options(app, &options("public", "o-9", Some("d@example.com"), NOW)).await.expect("save");
    assert_eq!(s.wa_sign_up(public, by_id("public", "o-9"), &user("u4", "d@example.com"), &credential("cred-4", "u4", NOW)).await.expect("sign up"), SignUpOutcome::Created);

    // Deletes: a user's credentials and tokens go with it; a tenant's options and user rows with it.
    s.wa_add_recovery_token(app, &token("public", "u1", "a@example.com", "h4", expiry)).await.expect("add");
    assert!(s.delete_users(app, &["u1".to_owned()]).await.expect("delete"));
    assert_eq!(s.get_user(app, "u1").await.expect("user"), None);
    assert!(s.wa_credentials_of_user(app, "u1").await.expect("list").is_empty());
    assert_eq!(s.wa_credential_for_sign_in(app, RP, "cred-1").await.expect("get"), None);
    assert_eq!(s.wa_recovery_token(public, "h4").await.expect("get"), None);
    // The deleted user's credential id and email are free again.
    s.wa_save_options(app, &options("public", "o-10", Some("a@example.com"), NOW)).await.expect("save");
    assert_eq!(s.wa_sign_up(public, by_id("public", "o-10"), &user("u5", "a@example.com"), &credential("cred-1", "u5", NOW)).await.expect("sign up"), SignUpOutcome::Created);

    assert!(s.delete_tenant_rows(t1).await.expect("delete tenant"));
    assert_eq!(s.wa_options(t1, "o-late").await.expect("get"), None, "options go with their tenant");
    let found = s.wa_credential_for_sign_in(app, RP, "cred-2").await.expect("get").expect("the user is app-wide");
    assert!(found.user_tenant_ids.is_empty(), "its tenant row went");
    assert!(s.delete_app_rows(app).await.expect("delete app"));
    assert_eq!(s.wa_credential_for_sign_in(app, RP, "cred-2").await.expect("get"), None, "everything goes with the app");
    assert!(s.delete_app_rows(AppKey::new(OTHER_APP)).await.expect("delete app"));
}
