//! Background jobs: deleting expired sessions, signing keys that can no longer verify anything,
//! passwordless devices whose codes all expired, used TOTP codes, dashboard sessions and
//! brute-force counters whose window ended.
//! Each run takes a lease in the base database first, so that with several instances on one
//! database a job runs once per interval, not once per instance.

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::storage::{Storage, StorageError};

use crate::state::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    DeleteExpiredSessions,
    DeleteExpiredSigningKeys,
    DeleteExpiredPasswordlessDevices,
    DeleteExpiredTotpCodes,
    DeleteExpiredDashboardSessions,
    DeleteExpiredWebauthnData,
    DeleteExpiredSamlData,
    DeleteExpiredOAuthRows,
    DeleteExpiredRateLimits,
}

impl Job {
    pub const ALL: [Job; 9] = [
        Job::DeleteExpiredSessions,
        Job::DeleteExpiredSigningKeys,
        Job::DeleteExpiredPasswordlessDevices,
        Job::DeleteExpiredTotpCodes,
        Job::DeleteExpiredDashboardSessions,
        Job::DeleteExpiredWebauthnData,
        Job::DeleteExpiredSamlData,
        Job::DeleteExpiredOAuthRows,
        Job::DeleteExpiredRateLimits,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Job::DeleteExpiredSessions => "portcullis.cron.delete_expired_sessions",
            Job::DeleteExpiredSigningKeys => "portcullis.cron.delete_expired_signing_keys",
            Job::DeleteExpiredPasswordlessDevices => "portcullis.cron.delete_expired_passwordless_devices",
            Job::DeleteExpiredTotpCodes => "portcullis.cron.delete_expired_totp_codes",
            Job::DeleteExpiredDashboardSessions => "portcullis.cron.delete_expired_dashboard_sessions",
            Job::DeleteExpiredWebauthnData => "portcullis.cron.delete_expired_webauthn_data",
            Job::DeleteExpiredSamlData => "portcullis.cron.delete_expired_saml_data",
            Job::DeleteExpiredOAuthRows => "portcullis.cron.delete_expired_oauth_rows",
            Job::DeleteExpiredRateLimits => "portcullis.cron.delete_expired_rate_limits",
        }
    }

    /// The core's intervals.
    pub fn interval_ms(self) -> i64 {
        match self {
            Job::DeleteExpiredSessions => 12 * 3_600_000,
            Job::DeleteExpiredSigningKeys => 24 * 3_600_000,
            Job::DeleteExpiredPasswordlessDevices => 3_600_000,
            Job::DeleteExpiredTotpCodes => 3_600_000,
            Job::DeleteExpiredDashboardSessions => 24 * 3_600_000,
            Job::DeleteExpiredWebauthnData => 24 * 3_600_000,
            Job::DeleteExpiredSamlData => 3_600_000,
            // The Java core's OAuth cleanup ran daily.
            Job::DeleteExpiredOAuthRows => 24 * 3_600_000,
            // Portcullis's own: counters whose window ended count nothing any more (a row is
            // restarted in place when its key is counted again, so only idle keys pile up).
            Job::DeleteExpiredRateLimits => 3_600_000,
        }
    }
}

/// Every distinct database the tenants use (tenants sharing one share its storage object).
fn storages(state: &AppState) -> Vec<Arc<dyn Storage>> {
    let snapshot = state.registry.snapshot();
    crate::tenancy::Snapshot::distinct_storages(snapshot.tenants.values()).into_iter().map(Arc::clone).collect()
}

/// Runs `job` if its lease is free; returns the rows it removed, or `None` when another instance
/// (or an earlier run) holds the lease.
pub async fn run(state: &AppState, job: Job, now: i64) -> Result<Option<u64>, StorageError> {
    if !state.registry.base_storage().lease(job.name(), now, job.interval_ms()).await? {
        return Ok(None);
    }
    let outcome = run_leased(state, job, now).await;
    state.metrics.record_cron(job.name(), outcome.is_ok());
    outcome.map(Some)
}

async fn run_leased(state: &AppState, job: Job, now: i64) -> Result<u64, StorageError> {
    let mut removed = 0;
    match job {
        Job::DeleteExpiredSessions => {
            for s in storages(state) {
                removed += s.session_delete_expired(now).await?;
            }
        }
        Job::DeleteExpiredDashboardSessions => {
            for s in storages(state) {
                removed += s.dashboard_sessions_delete_expired(now).await?;
            }
        }
        Job::DeleteExpiredWebauthnData => {
            // Options (used sign-in options included) and recovery tokens past their expiry.
            for s in storages(state) {
                removed += s.wa_delete_expired(now).await?;
            }
        }
        Job::DeleteExpiredSigningKeys => {
            let snapshot = state.registry.snapshot();
            for app in snapshot.tenants.values().filter(|t| t.config.id.is_public_tenant()) {
                let timing = app.settings.session.key_timing;
                removed += app.storage.dynamic_keys_delete_before(app.config.id.app_key(), now - timing.lifetime_ms).await?;
            }
        }
        Job::DeleteExpiredPasswordlessDevices => {
            // Per tenant: each has its own code lifetime.
            let snapshot = state.registry.snapshot();
            for t in snapshot.tenants.values() {
                let cutoff = now - t.settings.passwordless.code_lifetime_ms;
                removed += t.storage.pl_delete_expired_devices(t.config.id.key(), cutoff).await?;
            }
        }
        Job::DeleteExpiredOAuthRows => {
            // Per app: the provider's rows (grants and M2M rows 31 days past expiry, logout
            // challenges after 48 h, finished flows, lapsed consents; core's retention rules).
            let snapshot = state.registry.snapshot();
            for app in snapshot.tenants.values().filter(|t| t.config.id.is_public_tenant()) {
                let c = app.storage.oauth_cleanup(app.config.id.app_key(), now).await?;
                removed += c.grants + c.m2m_tokens + c.logout_challenges + c.flows + c.consents;
            }
        }
        Job::DeleteExpiredTotpCodes => {
            // Codes stay a cooldown past their expiry: the rate limit still counts them.
            let snapshot = state.registry.snapshot();
            for t in snapshot.tenants.values() {
                let before = now - t.settings.totp.cooldown_ms;
                removed += t.storage.totp_delete_expired_codes(t.config.id.key(), before).await?;
            }
        }
        Job::DeleteExpiredRateLimits => {
            for s in storages(state) {
                removed += s.rate_limit_delete_expired(now).await?;
            }
        }
        Job::DeleteExpiredSamlData => {
            // Relay states and codes past their `expires_at`, every tenant of each database.
            for s in storages(state) {
                let (relay_states, codes) = s.saml_delete_expired(now).await?;
                removed += relay_states + codes;
            }
        }
    }
    Ok(removed)
}

/// Checks the jobs every minute for as long as the server runs.
pub fn spawn(state: Arc<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        // The first check comes a minute after start, not at start.
        tick.tick().await;
        loop {
            tick.tick().await;
            for job in Job::ALL {
                match run(&state, job, state.clock.now()).await {
                    Ok(Some(n)) => tracing::info!(job = job.name(), removed = n, "cron job ran"),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(job = job.name(), error = %e, "cron job failed"),
                }
            }
        }
    });
}
