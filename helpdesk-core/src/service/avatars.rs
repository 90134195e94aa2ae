//! Avatars. Decoding and re-encoding an untrusted image is the HTTP layer's (it is CPU-heavy
//! and needs an image library, which core does not carry); core stores the finished square
//! thumbnail under a server-generated, versioned key, points the user at it in one commit,
//! and lets any signed-in user fetch it.

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStoreExt as _, PutPayload};

use super::HelpDesk;
use super::attachments::blob_error;
use crate::domain::{StorageKey, UserId};
use crate::model::User;
use crate::policy::{Permission, Principal, Resource};
use crate::ports::{UnitOfWork, Versioned};
use crate::{Error, Result};

impl HelpDesk {
    /// Replaces one's avatar with `thumbnail` (already decoded, checked and re-encoded). The
    /// blob is written before the commit; the previous one is deleted after it.
    ///
    /// # Errors
    /// `Unauthenticated`, `Unavailable` (attachment store), `VersionConflict`.
    pub async fn set_avatar(&self, principal: &Principal, thumbnail: Bytes) -> Result<User> {
        self.require(principal, Permission::ManageOwnProfile, &Resource::none())?;
        let user = self.profile(principal).await?;
        let key = StorageKey::for_avatar(user.id, user.version + 1);
        self.inner.blobs.put(&key.to_path(), PutPayload::from(thumbnail)).await.map_err(blob_error)?;
        let mut next = user.clone();
        next.avatar = Some(key.clone());
        next.version = user.version + 1;
        next.updated_at = self.now();
        let mut uow = UnitOfWork::new();
        uow.users.push(Versioned::update(next.clone(), user.version));
        if let Err(e) = self.commit(uow).await {
            let _ = self.inner.blobs.delete(&key.to_path()).await;
            return Err(e.into());
        }
        if let Some(old) = user.avatar
            && let Err(e) = self.inner.blobs.delete(&old.to_path()).await
        {
            tracing::warn!(error = %e, key = old.as_str(), "could not delete a replaced avatar");
        }
        Ok(next)
    }

    /// Where a user's avatar is (any signed-in user may fetch one), with its key for an ETag.
    ///
    /// # Errors
    /// `NotFound` when the user has none.
    pub async fn avatar(&self, principal: &Principal, user: UserId) -> Result<(Path, StorageKey)> {
        self.require(principal, Permission::ViewAvatar, &Resource::none())?;
        let u = self.inner.store.user(user).await?.ok_or(Error::NotFound { what: "avatar" })?;
        let key = u.avatar.ok_or(Error::NotFound { what: "avatar" })?;
        Ok((key.to_path(), key))
    }
}
