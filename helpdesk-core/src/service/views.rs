//! Saved views of the queue: staff keep views of their own, admins the ones shared with all
//! staff; each view is listed with how many tickets it holds for the person asking (counted
//! with their list scope, like the queue itself), and each person may choose a default view.

use serde::Serialize;

use super::HelpDesk;
use crate::domain::{Tag, ViewId, ViewName};
use crate::model::{SavedView, ViewBook, ViewColumn, ViewFilter};
use crate::policy::{Permission, Principal, Resource};
use crate::ports::DocumentKey;
use crate::{AuthFailure, Error, FieldError, Result, ValidationErrors};

/// The most views a deployment keeps (shared and personal together).
pub const MAX_VIEWS: usize = 2_000;

/// A view as written in a form or a request, checked by [`HelpDesk::save_view`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewDraft {
    /// The name.
    pub name: String,
    /// Shared with all staff (admins only) rather than personal.
    pub shared: bool,
    /// What it lists.
    pub filter: ViewFilter,
    /// The columns it shows (empty: all).
    pub columns: Vec<ViewColumn>,
}

/// A view with what it holds now for the person asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViewSummary {
    /// The view.
    pub view: SavedView,
    /// How many tickets it lists for this person now.
    pub count: u64,
    /// True when it is this person's default view.
    pub default: bool,
}

impl HelpDesk {
    fn sees_view(principal: &Principal, v: &SavedView) -> bool {
        v.owner.is_none() || v.owner == principal.user().map(|u| u.id)
    }

    fn may_change_view(&self, principal: &Principal, v: &SavedView) -> bool {
        match v.owner {
            Some(owner) => principal.user().is_some_and(|u| u.id == owner),
            None => self.allowed(principal, Permission::ManageSharedViews, &Resource::none()),
        }
    }

    /// How many tickets `filter` lists for the principal now (their list scope applied).
    async fn view_count(&self, principal: &Principal, filter: &ViewFilter) -> Result<u64> {
        let query = filter.query(principal.user().map(|u| u.id), self.now());
        let counts = self.ticket_counts(principal, &query).await?;
        Ok(counts
            .iter()
            .filter(|(s, _)| filter.statuses.is_empty() || filter.statuses.contains(s))
            .map(|(_, n)| n)
            .sum())
    }

    /// The views the principal may open (the shared ones and their own, by name), each with
    /// its count now and whether it is their default.
    ///
    /// # Errors
    /// `Forbidden` for anyone but staff.
    pub async fn views(&self, principal: &Principal) -> Result<Vec<ViewSummary>> {
        self.require(principal, Permission::UseViews, &Resource::none())?;
        let me = principal.user().map(|u| u.id);
        let (book, _) = self.load_document::<ViewBook>(DocumentKey::Views).await?;
        let default = book.defaults.iter().find(|(u, _)| Some(*u) == me).map(|(_, v)| *v);
        let mut visible: Vec<SavedView> = book.views.into_iter().filter(|v| Self::sees_view(principal, v)).collect();
        visible.sort_by_key(|v| v.name.as_str().to_lowercase());
        let counts =
            futures::future::try_join_all(visible.iter().map(|v| self.view_count(principal, &v.filter))).await?;
        Ok(visible
            .into_iter()
            .zip(counts)
            .map(|(view, count)| ViewSummary { default: Some(view.id) == default, view, count })
            .collect())
    }

    /// One view the principal may open.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` (also for another person's view).
    pub async fn view_by_id(&self, principal: &Principal, id: ViewId) -> Result<SavedView> {
        self.require(principal, Permission::UseViews, &Resource::none())?;
        let (book, _) = self.load_document::<ViewBook>(DocumentKey::Views).await?;
        book.views
            .into_iter()
            .find(|v| v.id == id && Self::sees_view(principal, v))
            .ok_or(Error::NotFound { what: "view" })
    }

    /// The principal's default view, if they chose one they can still open.
    ///
    /// # Errors
    /// `Forbidden`.
    pub async fn default_view(&self, principal: &Principal) -> Result<Option<SavedView>> {
        self.require(principal, Permission::UseViews, &Resource::none())?;
        let me = principal.user().map(|u| u.id);
        let (book, _) = self.load_document::<ViewBook>(DocumentKey::Views).await?;
        let Some(id) = book.defaults.iter().find(|(u, _)| Some(*u) == me).map(|(_, v)| *v) else { return Ok(None) };
        Ok(book.views.into_iter().find(|v| v.id == id && Self::sees_view(principal, v)))
    }

    /// Saves a view: a new one (`id: None`) or a change to one the principal may change.
    ///
    /// # Errors
    /// `Forbidden` (a shared view without [`Permission::ManageSharedViews`]); `NotFound`;
    /// `Validation` naming the field (`name` empty, too long or taken among the views its
    /// owner sees; `text` too long; `tags_any`).
    pub async fn save_view(&self, principal: &Principal, id: Option<ViewId>, draft: ViewDraft) -> Result<SavedView> {
        self.require(principal, Permission::UseViews, &Resource::none())?;
        let user = principal.user().ok_or(Error::Unauthenticated(AuthFailure::Missing))?.id;
        if draft.shared {
            self.require(principal, Permission::ManageSharedViews, &Resource::none())?;
        }
        let mut errs = ValidationErrors::new();
        let name = errs.check(ViewName::parse_field("name", &draft.name));
        let mut filter = draft.filter.clone();
        filter.text = filter.text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        if filter.text.as_ref().is_some_and(|t| t.chars().count() > 200) {
            errs.push(FieldError::new("text", "too_long", "at most 200 characters"));
        }
        let tags: Vec<String> = filter.tags_any.iter().map(|t| t.as_str().to_owned()).collect();
        errs.check(Tag::parse_set("tags_any", &tags));
        errs.into_result()?;
        let name = name.ok_or_else(|| Error::Internal("a checked view has no name".into()))?;
        let mut columns: Vec<ViewColumn> =
            ViewColumn::ALL.iter().copied().filter(|c| draft.columns.contains(c)).collect();
        if columns.len() == ViewColumn::ALL.len() {
            columns.clear();
        }
        let fresh = SavedView {
            id: ViewId::random(),
            name,
            owner: (!draft.shared).then_some(user),
            filter,
            columns,
            updated_at: self.now(),
            updated_by: user,
        };
        let saved = self
            .change_document(DocumentKey::Views, |book: &mut ViewBook| {
                let mut v = fresh.clone();
                if let Some(id) = id {
                    let old = book
                        .views
                        .iter()
                        .find(|o| o.id == id && Self::sees_view(principal, o))
                        .ok_or(Error::NotFound { what: "view" })?;
                    if !self.may_change_view(principal, old) {
                        return Err(Error::Forbidden("change this view"));
                    }
                    v.id = id;
                }
                let key = v.name.as_str().to_lowercase();
                if book.views.iter().any(|o| {
                    o.id != v.id
                        && o.name.as_str().to_lowercase() == key
                        && (o.owner.is_none() || (v.owner.is_some() && o.owner == v.owner))
                }) {
                    return Err(FieldError::new("name", "taken", "another view has this name").into());
                }
                let full = book.views.len() >= MAX_VIEWS;
                match book.views.iter_mut().find(|o| o.id == v.id) {
                    Some(slot) => *slot = v.clone(),
                    None if full => return Err(Error::Conflict("this help desk keeps at most 2,000 views")),
                    None => book.views.push(v.clone()),
                }
                Ok(v)
            })
            .await?;
        Ok(saved)
    }

    /// Deletes a view the principal may change; anyone's default that pointed at it is
    /// forgotten.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub async fn delete_view(&self, principal: &Principal, id: ViewId) -> Result<()> {
        self.require(principal, Permission::UseViews, &Resource::none())?;
        self.change_document(DocumentKey::Views, |book: &mut ViewBook| {
            let at = book
                .views
                .iter()
                .position(|o| o.id == id && Self::sees_view(principal, o))
                .ok_or(Error::NotFound { what: "view" })?;
            if !self.may_change_view(principal, &book.views[at]) {
                return Err(Error::Forbidden("change this view"));
            }
            book.views.remove(at);
            book.defaults.retain(|(_, v)| *v != id);
            Ok(())
        })
        .await
    }

    /// Makes `id` the principal's default view (`None`: no default, the queue's open work).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for a view they cannot open.
    pub async fn set_default_view(&self, principal: &Principal, id: Option<ViewId>) -> Result<()> {
        self.require(principal, Permission::UseViews, &Resource::none())?;
        let me = principal.user().ok_or(Error::Unauthenticated(AuthFailure::Missing))?.id;
        self.change_document(DocumentKey::Views, |book: &mut ViewBook| {
            if let Some(id) = id
                && !book.views.iter().any(|v| v.id == id && Self::sees_view(principal, v))
            {
                return Err(Error::NotFound { what: "view" });
            }
            book.defaults.retain(|(u, _)| *u != me);
            if let Some(id) = id {
                book.defaults.push((me, id));
            }
            Ok(())
        })
        .await
    }
}
