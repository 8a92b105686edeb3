//! The user-id mapping recipe: a SuperTokens user id paired with the application's own id. A
//! mapping lives in the database that holds its user; external ids are unique across the app.
//!
//! The rules: a mapping needs an existing SuperTokens user and two free ids; without `force`, the
//! external id may not itself be a SuperTokens user id, and no data keyed by the SuperTokens id may
//! be orphaned (email verification data, the only data the core writes itself on sign-up, moves
//! to the external id, as the core does from CDI 4.0); deleting or changing a mapping without
//! `force` may not orphan data keyed by the external id.

pub mod storage;

use std::sync::Arc;

use crate::ids::AppKey;
use crate::storage::tx::{Tx, TxFuture};
use crate::storage::{transaction, Storage, StorageError};
use storage::{IdType, UserIdMapping};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateMappingOutcome {
    Created,
    UnknownSuperTokensUser,
    AlreadyExists { supertokens_exists: bool, external_exists: bool },
    /// Without `force`: the external id is itself a SuperTokens user id.
    ExternalIsSuperTokensId,
    /// Without `force`: data of this recipe is keyed by the SuperTokens id already.
    InUse(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteMappingOutcome {
    Deleted { existed: bool },
    /// Without `force`: data of this recipe is keyed by the external id.
    InUse(&'static str),
}

/// How `POST /recipe/userid/map` treats data already keyed by the SuperTokens id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateRules {
    /// Skip the checks: the external id may be a SuperTokens id and data may be orphaned.
    pub force: bool,
    /// Email verification data alone does not block the mapping: it moves to the external id. The
    /// core makes this exception from CDI 4.0, when sign-in-up started marking emails verified;
    /// before, such data blocks the mapping like any other recipe's.
    pub move_email_verification: bool,
}

/// `POST /recipe/userid/map`.
pub async fn create(storages: &[&Arc<dyn Storage>], app: AppKey<'_>, mapping: UserIdMapping, rules: CreateRules) -> Result<CreateMappingOutcome, StorageError> {
    // The external id must be free in every database of the app, not only the user's.
    for s in storages {
        if let Some(m) = s.get_user_id_mapping(app, &mapping.external_user_id, IdType::External).await? {
            let supertokens_exists = m.supertokens_user_id == mapping.supertokens_user_id;
            return Ok(CreateMappingOutcome::AlreadyExists { supertokens_exists, external_exists: true });
        }
    }
    let mut home = None;
    for s in storages {
        if s.get_user(app, &mapping.supertokens_user_id).await?.is_some() {
            home = Some(s);
            break;
        }
    }
    let Some(storage) = home else { return Ok(CreateMappingOutcome::UnknownSuperTokensUser) };
    transaction(storage.as_ref(), (app.app_id.to_owned(), mapping, rules), create_in).await
}

/// Checks the ids and the data in the user's database, then inserts the mapping.
fn create_in<'t>(tx: &'t mut dyn Tx, (app, m, rules): &'t (String, UserIdMapping, CreateRules)) -> TxFuture<'t, CreateMappingOutcome> {
    Box::pin(async move {
        let app = AppKey::new(app);
        let (st, ext) = (m.supertokens_user_id.as_str(), m.external_user_id.as_str());
        let st_mapped = tx.uim_find(app, st, IdType::SuperTokens).await?.is_some();
        let ext_mapped = tx.uim_find(app, ext, IdType::External).await?.is_some();
        if st_mapped || ext_mapped {
            return Ok(CreateMappingOutcome::AlreadyExists { supertokens_exists: st_mapped, external_exists: ext_mapped });
        }
        if !tx.uim_is_user(app, st, true).await? {
            return Ok(CreateMappingOutcome::UnknownSuperTokensUser);
        }
        if !rules.force {
            if tx.uim_is_user(app, ext, false).await? {
                return Ok(CreateMappingOutcome::ExternalIsSuperTokensId);
            }
            match tx.uim_used_by(app, st).await?.as_slice() {
                [] => {}
                ["EmailVerification"] if rules.move_email_verification => tx.uim_move_email_verification(app, st, ext).await?,
                [first, ..] => return Ok(CreateMappingOutcome::InUse(first)),
            }
        }
        Ok(match tx.uim_insert(app, m).await? {
            Ok(()) => CreateMappingOutcome::Created,
            // A concurrent create won.
            Err(side) => CreateMappingOutcome::AlreadyExists {
                supertokens_exists: side != IdType::External,
                external_exists: side == IdType::External,
            },
        })
    })
}

/// The mapping an id names, from whichever of the app's databases has it.
pub async fn find<'s>(storages: &[&'s Arc<dyn Storage>], app: AppKey<'_>, id: &str, kind: IdType) -> Result<Option<(UserIdMapping, &'s Arc<dyn Storage>)>, StorageError> {
    for s in storages {
        if let Some(m) = s.get_user_id_mapping(app, id, kind).await? {
            return Ok(Some((m, *s)));
        }
    }
    Ok(None)
}

/// `POST /recipe/userid/map/remove`.
pub async fn delete(storages: &[&Arc<dyn Storage>], app: AppKey<'_>, id: &str, kind: IdType, force: bool) -> Result<DeleteMappingOutcome, StorageError> {
    let Some((m, storage)) = find(storages, app, id, kind).await? else { return Ok(DeleteMappingOutcome::Deleted { existed: false }) };
    let input = (app.app_id.to_owned(), m.supertokens_user_id, force);
    transaction(storage.as_ref(), input, |tx, (app, st, force)| {
        Box::pin(async move {
            let app = AppKey::new(app);
            let Some(m) = tx.uim_find(app, st, IdType::SuperTokens).await? else { return Ok(DeleteMappingOutcome::Deleted { existed: false }) };
            if !force {
                if let Some(first) = tx.uim_used_by(app, &m.external_user_id).await?.first() {
                    return Ok(DeleteMappingOutcome::InUse(first));
                }
            }
            tx.uim_delete(app, &m.supertokens_user_id).await?;
            Ok(DeleteMappingOutcome::Deleted { existed: true })
        })
    })
    .await
}

/// `PUT /recipe/userid/external-user-id-info`: sets (or with `None` clears) a mapping's external
/// info. False when there is no such mapping.
pub async fn update_info(storages: &[&Arc<dyn Storage>], app: AppKey<'_>, id: &str, kind: IdType, info: Option<String>) -> Result<bool, StorageError> {
    let Some((m, storage)) = find(storages, app, id, kind).await? else { return Ok(false) };
    let input = (app.app_id.to_owned(), m.supertokens_user_id, info);
    transaction(storage.as_ref(), input, |tx, (app, st, info)| {
        Box::pin(async move {
            let app = AppKey::new(app);
            if tx.uim_find(app, st, IdType::SuperTokens).await?.is_none() {
                return Ok(false);
            }
            tx.uim_set_info(app, st, info.as_deref()).await?;
            Ok(true)
        })
    })
    .await
}
