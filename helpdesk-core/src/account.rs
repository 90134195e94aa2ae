//! The account lifecycle: pending → approved | rejected, approved ↔ deactivated.
//!
//! Rejection is not a stored status: the account's personal data is deleted (so the email
//! and company id can register again) and a [`RejectionRecord`](crate::model::RejectionRecord)
//! stays as the audit trail. These functions are pure; the service commits their results.

use crate::Error;
use crate::domain::UserStatus;

/// An admin action on an account's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountAction {
    /// pending → approved.
    Approve,
    /// pending → (deleted, audit record).
    Reject,
    /// approved → deactivated.
    Deactivate,
    /// deactivated → approved.
    Reactivate,
}

impl AccountAction {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            AccountAction::Approve => "approve",
            AccountAction::Reject => "reject",
            AccountAction::Deactivate => "deactivate",
            AccountAction::Reactivate => "reactivate",
        }
    }
}

/// The status after `action`, or `None` when the account is deleted (reject).
///
/// # Errors
/// [`Error::AccountTransition`] when `action` does not apply to `from`.
pub fn next_status(from: UserStatus, action: AccountAction) -> Result<Option<UserStatus>, Error> {
    use AccountAction as A;
    use UserStatus as S;
    match (from, action) {
        (S::Pending, A::Approve) => Ok(Some(S::Approved)),
        (S::Pending, A::Reject) => Ok(None),
        (S::Approved, A::Deactivate) => Ok(Some(S::Deactivated)),
        (S::Deactivated, A::Reactivate) => Ok(Some(S::Approved)),
        _ => Err(Error::AccountTransition { action: action.as_str().to_owned(), from: from.as_str().to_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        use AccountAction as A;
        use UserStatus as S;
        let cases = [
            (S::Pending, A::Approve, Some(Some(S::Approved))),
            (S::Pending, A::Reject, Some(None)),
            (S::Pending, A::Deactivate, None),
            (S::Pending, A::Reactivate, None),
            (S::Approved, A::Approve, None),
            (S::Approved, A::Reject, None),
            (S::Approved, A::Deactivate, Some(Some(S::Deactivated))),
            (S::Approved, A::Reactivate, None),
            (S::Deactivated, A::Approve, None),
            (S::Deactivated, A::Reject, None),
            (S::Deactivated, A::Deactivate, None),
            (S::Deactivated, A::Reactivate, Some(Some(S::Approved))),
        ];
        for (from, action, want) in cases {
            assert_eq!(next_status(from, action).ok(), want, "{from} {action:?}");
        }
    }
}
